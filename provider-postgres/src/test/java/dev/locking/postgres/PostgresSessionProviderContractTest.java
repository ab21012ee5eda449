package dev.locking.postgres;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.PostgresServer;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/**
 * The whole contract in session mode: each lock a session-level advisory lock on one of the
 * provider's own server sessions, waiters woken by LISTEN/NOTIFY.
 */
class PostgresSessionProviderContractTest extends LockingProviderContract {
    private static final PostgresServer server = PostgresServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "session");
    }

    @Override
    protected LockingModule newModule() {
        Map<String, Object> options = TestModules.options(server, server.jdbcUrl(), schema);
        options.put("mode", "session");
        return TestModules.module(options);
    }

    /** A lock lives on a server session of the process that took it (docs/postgres.md#modes). */
    @Override
    protected boolean locksSpanInstances() {
        return false;
    }
}
