package dev.locking.postgres;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.PgBouncerServer;
import dev.locking.testkit.servers.PostgresServer;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/**
 * The whole contract through PgBouncer in transaction pooling mode, where consecutive statements
 * of one JDBC connection may run on different server sessions: nothing may depend on session
 * state. Waiters learn of releases by polling only, as they would behind a pooler with no direct
 * listen-url.
 */
class PgBouncerProviderContractTest extends LockingProviderContract {
    private static final PgBouncerServer bouncer = PgBouncerServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(PostgresServer.shared(), "bouncer");
    }

    @Override
    protected LockingModule newModule() {
        Map<String, Object> options = TestModules.options(bouncer.postgres(), bouncer.jdbcUrl(), schema);
        options.put("notifications", "poll");
        options.put("poll-interval", "100ms");
        options.put("waiter-expiry", "2s");
        return TestModules.module(options);
    }

    /**
     * Without notifications every hand-over between the two instances waits for a poll, so the
     * default 150 rounds per thread would not fit the kit's 20 s wait; correctness is the same.
     */
    @Override
    protected int fuzzRounds() {
        return 50;
    }
}
