package dev.locking.postgres;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.PostgresServer;
import org.junit.jupiter.api.BeforeAll;

/** The whole contract against a real PostgreSQL, directly, with LISTEN/NOTIFY wake-ups. */
class PostgresProviderContractTest extends LockingProviderContract {
    private static final PostgresServer server = PostgresServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "contract");
    }

    @Override
    protected LockingModule newModule() {
        return TestModules.module(TestModules.options(server, server.jdbcUrl(), schema));
    }
}
