package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PrivatePostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What a caller reads when the server refuses: one line that names what the server said (its
 * message and SQL state) and what to do, never "this is unexpected", never the PL/pgSQL source the
 * driver appends, never a bare "no connection" that leaves the cause out. Each refusal is a real one, from a PostgreSQL of
 * the test's own (roles, authentication and settings of its own; the shared server is untouched):
 * a role with CONNECTION LIMIT 0 (53300), a password check (28P01), a role and a database that do
 * not exist (28000, 3D000), a role whose sessions are read-only as on a standby (25006). A full disk
 * (53100) cannot be produced safely; a trigger on the locks table raises the server's disk_full
 * error with the message PostgreSQL writes then, so the caller sees it through the real call path.
 */
@DisplayName("PostgreSQL refusals are named in one line with what to do")
class PostgresServerRefusalsTest {
    private static PrivatePostgres server;
    private static final String SCHEMA = "refusals";

    @BeforeAll
    static void start() throws IOException {
        server = PrivatePostgres.start();
        // Passwords for every role but postgres, so a wrong one is refused (28P01).
        Path hba = server.directory().resolve("data").resolve("pg_hba.conf");
        Files.writeString(
                hba,
                "local all all trust\n" + "host all postgres 127.0.0.1/32 trust\n"
                        + "host all ghost 127.0.0.1/32 trust\n" + "host all all 127.0.0.1/32 scram-sha-256\n");
        server.query("SELECT pg_reload_conf()");
        server.execute("CREATE ROLE app LOGIN PASSWORD 'right-password'");
        server.execute("CREATE ROLE limited LOGIN PASSWORD 'pw' CONNECTION LIMIT 0");
        server.execute("CREATE ROLE readonly LOGIN PASSWORD 'pw'");
        server.execute("CREATE SCHEMA " + SCHEMA + " AUTHORIZATION app");
        try (LockingModule m = module("app", "right-password", server.database())) {
            m.migrate();
        }
        server.execute("GRANT USAGE ON SCHEMA " + SCHEMA + " TO readonly");
        server.execute("GRANT ALL ON ALL TABLES IN SCHEMA " + SCHEMA + " TO readonly");
        server.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA " + SCHEMA + " TO readonly");
        server.execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA " + SCHEMA + " TO readonly");
        // What a standby (or a primary demoted by a failover) does to every transaction.
        server.execute("ALTER ROLE readonly SET default_transaction_read_only = on");
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static LockingModule module(String user, String password, String database) {
        Map<String, Object> options = new HashMap<>();
        options.put("url", "jdbc:postgresql://" + server.host() + ":" + server.port() + "/" + database);
        options.put("user", user);
        if (password != null) options.put("password", password);
        options.put("schema", SCHEMA);
        options.put("pool", Map.of("connectionTimeout", 1000, "minimumIdle", 0));
        return LockingModule.create(TestModules.config(options).withFallback(com.typesafe.config.ConfigFactory.load()));
    }

    /** The failure of an acquire, with and without a timeout, checked to be one line naming {@code said}. */
    private static void refused(LockingModule m, String state, List<String> said) {
        for (LockOptions options : List.of(
                LockOptions.defaults().owner("o"),
                LockOptions.defaults().owner("o").timeout(Duration.ofMillis(1500)))) {
            LockingException e =
                    assertThrows(LockingException.class, () -> m.acquire("k-" + UUID.randomUUID(), options), state);
            String message = e.getMessage();
            assertFalse(message.contains("\n") || message.contains("\r"), () -> "not one line: " + message);
            assertTrue(message.contains("SQL state " + state), () -> "the SQL state is not named: " + message);
            for (String words : said)
                assertTrue(message.contains(words), () -> "\"" + words + "\" is not in: " + message);
            assertFalse(message.contains("unexpected"), message);
            assertFalse(message.contains("PL/pgSQL") || message.contains("SQL statement"), message);
            assertTrue(message.length() < 700, () -> message.length() + " characters: " + message);
        }
    }

    @Test
    void noConnectionSlotLeftNamesTheLimitAndThePoolSize() {
        try (LockingModule m = module("limited", "pw", server.database())) {
            refused(m, "53300", List.of("too many connections for role \"limited\"", "pool.maximumPoolSize"));
        }
    }

    @Test
    void aWrongPasswordSaysTheServerRefusedIt() {
        try (LockingModule m = module("app", "wrong-password", server.database())) {
            refused(m, "28P01", List.of("password authentication failed for user \"app\"", "password"));
        }
    }

    @Test
    void aRoleThatDoesNotExistSaysSo() {
        try (LockingModule m = module("ghost", null, server.database())) {
            refused(m, "28000", List.of("role \"ghost\" does not exist", "user"));
        }
    }

    @Test
    void aDatabaseThatDoesNotExistSaysSo() {
        try (LockingModule m = module("app", "right-password", "no_such_db")) {
            refused(m, "3D000", List.of("database \"no_such_db\" does not exist", "url"));
        }
    }

    @Test
    void aReadOnlyServerSaysToPointUrlAtThePrimary() {
        try (LockingModule m = module("readonly", "pw", server.database())) {
            refused(m, "25006", List.of("read-only transaction", "primary"));
        }
    }

    @Test
    void aFullDiskSaysToFreeSpace() {
        server.execute("CREATE FUNCTION " + SCHEMA + ".disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                + " RAISE EXCEPTION 'could not extend file \"base/16384/16385\": No space left on device'"
                + " USING ERRCODE = 'disk_full', HINT = 'Check free disk space.'; END $$");
        server.execute("CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON " + SCHEMA + ".locking FOR EACH ROW"
                + " EXECUTE FUNCTION " + SCHEMA + ".disk_full()");
        try (LockingModule m = module("app", "right-password", server.database())) {
            refused(m, "53100", List.of("No space left on device", "disk"));
        } finally {
            server.execute("DROP TRIGGER disk_full ON " + SCHEMA + ".locking");
        }
    }
}
