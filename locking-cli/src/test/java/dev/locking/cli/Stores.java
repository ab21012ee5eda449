package dev.locking.cli;

import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Configuration files for the tests, on the real servers of the testkit, each test class in a schema and namespace of its own. */
final class Stores {
    private Stores() {}

    /** HOCON for a {@code locking-postgres} registration on the shared test server. */
    static String postgres(String id, String schema, boolean isDefault) {
        PostgresServer pg = PostgresServer.shared();
        return "{ resolve = \"locking-postgres\", id = \"" + id + "\", is_default = " + isDefault
                + ", options { url = \""
                + pg.jdbcUrl() + "\", user = \"" + pg.user() + "\""
                + (pg.password() == null ? "" : ", password = \"" + pg.password() + "\"") + ", schema = \"" + schema
                + "\" } }";
    }

    /** HOCON for a {@code locking-redis} registration on the shared test server. */
    static String redis(String id, String namespace, boolean isDefault) {
        return "{ resolve = \"locking-redis\", id = \"" + id + "\", is_default = " + isDefault + ", options { url = \""
                + RedisServer.shared().url() + "\", namespace = \"" + namespace + "\" } }";
    }

    /** Writes {@code locking.providers = [entries]} to {@code dir/name} and returns the file. */
    static Path config(Path dir, String name, String... entries) {
        Path file = dir.resolve(name);
        try {
            Files.writeString(file, "locking.providers = [\n  " + String.join("\n  ", entries) + "\n]\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }
}
