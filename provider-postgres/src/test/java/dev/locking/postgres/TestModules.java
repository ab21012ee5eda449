package dev.locking.postgres;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.zaxxer.hikari.HikariConfig;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Modules with one locking-postgres registration "pg" on a schema of the test's own. */
final class TestModules {
    private TestModules() {}

    static Map<String, Object> options(PostgresServer server, String url, String schema) {
        Map<String, Object> options = new HashMap<>();
        options.put("url", url);
        options.put("user", server.user());
        if (server.password() != null) options.put("password", server.password());
        options.put("schema", schema);
        return options;
    }

    static Config config(Map<String, Object> options) {
        return config(options, "pg");
    }

    /** One registration with {@code id}: its sessions' application names end in "lp_" + id. */
    static Config config(Map<String, Object> options, String id) {
        return ConfigFactory.parseMap(Map.of(
                "locking.providers", List.of(Map.of("resolve", "locking-postgres", "id", id, "options", options))));
    }

    static LockingModule module(Map<String, Object> options) {
        return LockingModule.create(config(options).withFallback(ConfigFactory.load()));
    }

    static LockingModule module(Map<String, Object> options, String id) {
        return LockingModule.create(config(options, id).withFallback(ConfigFactory.load()));
    }

    /** The settings of an application's own HikariCP pool on the test server; the test adds the rest. */
    static HikariConfig appPoolConfig(PostgresServer server) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(server.jdbcUrl());
        config.setUsername(server.user());
        if (server.password() != null) config.setPassword(server.password());
        return config;
    }

    /** A fresh schema with the provider's migrations applied. */
    static String migratedSchema(PostgresServer server, String purpose) {
        String schema = server.newSchema(purpose);
        try (LockingModule m = module(options(server, server.jdbcUrl(), schema))) {
            m.migrate();
        }
        return schema;
    }
}
