package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quick start's demo: the unlocked run oversells, every locked run sells exactly the stock. */
class DemoCommandTest {
    private static final int STOCK = 5;

    @TempDir
    Path dir;

    private static List<String> lockedProviders(JsonNode json) {
        List<String> providers = new ArrayList<>();
        for (JsonNode run : json.get("runs"))
            if (run.get("locked").asBoolean()) providers.add(run.get("provider").asText());
        return providers;
    }

    private static void assertOversoldWithoutLockAndExactWithIt(JsonNode json) {
        JsonNode runs = json.get("runs");
        JsonNode unlocked = runs.get(0);
        assertFalse(unlocked.get("locked").asBoolean(), json::toString);
        assertTrue(unlocked.get("provider").isNull(), json::toString);
        assertTrue(unlocked.get("sold").asInt() > STOCK, () -> "the unlocked run did not oversell: " + json);
        assertTrue(unlocked.get("oversold").asBoolean(), json::toString);
        for (JsonNode run : runs) {
            if (!run.get("locked").asBoolean()) continue;
            assertEquals(STOCK, run.get("sold").asInt(), () -> run.get("provider") + " did not sell exactly: " + json);
            assertEquals(0, run.get("left").asInt(), json::toString);
            assertFalse(run.get("oversold").asBoolean(), json::toString);
            assertTrue(run.get("exact").asBoolean(), json::toString);
            assertTrue(run.get("error").isNull(), json::toString);
        }
    }

    @Test
    @DisplayName("with nothing configured: embedded PostgreSQL, in-memory and the Redis that answers")
    void withNothingConfiguredItStartsAnEmbeddedPostgres() {
        Cli.Result r = new Cli(dir)
                .run(
                        "demo",
                        "--stock",
                        String.valueOf(STOCK),
                        "--instances",
                        "3",
                        "--threads",
                        "2",
                        "--pause",
                        "20ms",
                        "--redis-url",
                        RedisServer.shared().url(),
                        "--json")
                .expect(0);
        JsonNode json = r.json();
        assertEquals("prod_123", json.get("product").asText());
        assertEquals(
                List.of("lp_locking-postgres", "lp_in-memory", "lp_locking-redis"), lockedProviders(json), r::toString);
        assertOversoldWithoutLockAndExactWithIt(json);
        assertEquals(0, json.get("skipped").size(), r::toString);
        for (JsonNode run : json.get("runs")) {
            boolean inMemory = "lp_in-memory".equals(run.get("provider").asText());
            assertEquals(inMemory ? 1 : 3, run.get("modules").asInt(), json::toString);
            assertEquals(6, run.get("buyers").asInt(), json::toString);
        }
        // Narration and progress go to stderr with --json.
        assertTrue(r.err().contains("Embedded PostgreSQL ready on port"), r::toString);
        assertTrue(r.err().contains("lp_locking-postgres 100%"), r::toString);
    }

    @Test
    @DisplayName("with a configured PostgreSQL: its registration, in-memory, a table at the end")
    void withAConfiguredPostgresItUsesThatRegistration() {
        String schema = PostgresServer.shared().newSchema("cli_demo");
        String config = Stores.config(dir, "demo.conf", Stores.postgres("shop-db", schema, true))
                .toString();
        Cli cli = new Cli(dir);
        cli.run("migrate", "-c", config).expect(0);

        Cli.Result r = cli.run(
                        "demo",
                        "-c",
                        config,
                        "--stock",
                        String.valueOf(STOCK),
                        "--instances",
                        "3",
                        "--threads",
                        "2",
                        "--pause",
                        "20ms",
                        "--no-redis")
                .expect(0);
        String out = r.out();
        assertTrue(out.contains("PROVIDER") && out.contains("OVERSOLD") && out.contains("TIME"), r::toString);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("none (no lock)") && l.contains(" yes ")), r::toString);
        assertTrue(
                out.lines().anyMatch(l -> l.startsWith("lp_shop-db ") && l.contains("3 x 2 buyers  5      5     no")),
                r::toString);
        assertTrue(
                out.lines().anyMatch(l -> l.startsWith("lp_in-memory ") && l.contains("1 x 6 buyers  5      5     no")),
                r::toString);
        assertFalse(out.contains("lp_locking-postgres"), "no embedded server when one is configured:\n" + r);
        assertFalse(out.contains("lp_locking-redis"), r::toString);
        assertTrue(out.contains("every provider sold exactly " + STOCK), r::toString);
        // Not a terminal: progress is plain lines, no carriage returns or colour codes.
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("lp_shop-db 100%")), r::toString);
        assertFalse(r.err().contains("\r") || r.err().contains("\u001b["), r::toString);
    }

    @Test
    void aConfiguredStoreThatIsNotMigratedFailsItsRunWithExit3() {
        String schema = PostgresServer.shared().newSchema("cli_demo_fresh");
        String config = Stores.config(dir, "fresh.conf", Stores.postgres("fresh", schema, true))
                .toString();
        Cli.Result r = new Cli(dir)
                .run("demo", "-c", config, "--stock", "3", "--instances", "2", "--threads", "1", "--no-redis", "--json")
                .expect(3);
        JsonNode fresh = null;
        for (JsonNode run : r.json().get("runs"))
            if ("lp_fresh".equals(run.get("provider").asText())) fresh = run;
        assertTrue(fresh != null && fresh.get("error").asText().contains("locking migrate"), r::toString);
        assertFalse(fresh.get("exact").asBoolean());
    }

    @Test
    void providersItCannotReachAreSkippedWithTheReasonNotFailed() {
        int closed = Ports.closed();
        Cli.Result r = new Cli(dir)
                .run(
                        "demo",
                        "--stock",
                        "3",
                        "--instances",
                        "2",
                        "--threads",
                        "1",
                        "--no-embedded-postgres",
                        "--redis-url",
                        "redis://127.0.0.1:" + closed,
                        "--json")
                .expect(0);
        JsonNode json = r.json();
        assertEquals(List.of("lp_in-memory"), lockedProviders(json), r::toString);
        JsonNode skipped = json.get("skipped");
        assertEquals(1, skipped.size(), r::toString);
        assertEquals("lp_locking-redis", skipped.get(0).get("provider").asText());
        assertTrue(skipped.get(0).get("reason").asText().contains("none answers on 127.0.0.1:" + closed), r::toString);
    }
}
