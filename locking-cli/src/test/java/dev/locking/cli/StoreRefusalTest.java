package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.testkit.servers.PostgresServer;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server that answers with a refusal is a store error, not an unreachable store: the line names
 * what the server said and what to do. The refusal is a real one: a role of the test's own with
 * CONNECTION LIMIT 0 (too many connections, SQL state 53300), dropped afterwards.
 */
class StoreRefusalTest {
    private static final String ROLE =
            "cli_refused_" + UUID.randomUUID().toString().substring(0, 8);

    @TempDir
    static Path dir;

    static Cli cli;
    static Path config;

    @BeforeAll
    static void createRole() {
        PostgresServer pg = PostgresServer.shared();
        pg.execute("CREATE ROLE " + ROLE + " LOGIN CONNECTION LIMIT 0");
        config = Stores.config(
                dir,
                "refused.conf",
                "{ resolve = \"locking-postgres\", id = \"pg\", options { url = \"" + pg.jdbcUrl() + "\", user = \""
                        + ROLE + "\", pool { connectionTimeout = 1000 } } }");
        cli = new Cli(dir);
    }

    @AfterAll
    static void dropRole() {
        PostgresServer.shared().execute("DROP ROLE IF EXISTS " + ROLE);
    }

    @Test
    void aServerThatRefusesTheConnectionIsAStoreErrorNamingItsReason() {
        for (String timeout : new String[] {"0s", "2s"}) {
            Cli.Result r = cli.run("acquire", "k", "--timeout", timeout, "-c", config.toString())
                    .expect(3);
            assertEquals(1, r.errLines().size(), r::toString);
            assertTrue(
                    r.err().startsWith("locking: store error: lp_pg (locking-postgres): acquire key \"k\" failed"),
                    r::toString);
            assertTrue(
                    r.err().contains("too many connections for role \"" + ROLE + "\" (SQL state 53300)"), r::toString);
            assertTrue(r.err().contains("pool.maximumPoolSize"), r::toString);
        }
    }
}
