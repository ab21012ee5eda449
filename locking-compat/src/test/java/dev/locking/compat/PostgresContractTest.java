package dev.locking.compat;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.PostgresServer;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** The whole contract on PostgreSQL with this set's Flyway, HikariCP, pgjdbc and SLF4J. */
class PostgresContractTest extends LockingProviderContract {
    private static final PostgresServer server = PostgresServer.shared();
    private static Map<String, Object> options;

    @BeforeAll
    static void migrate() {
        options = new HashMap<>();
        options.put("url", server.jdbcUrl());
        options.put("user", server.user());
        if (server.password() != null) options.put("password", server.password());
        options.put("schema", server.newSchema("compat"));
        try (LockingModule module = CompatModules.module("locking-postgres", options)) {
            module.migrate();
        }
    }

    @Override
    protected LockingModule newModule() {
        return CompatModules.module("locking-postgres", options);
    }
}
