package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BenchCommandTest {

    @TempDir
    static Path dir;

    static String config;

    @BeforeAll
    static void migrate() {
        config = Stores.config(
                        dir,
                        "bench.conf",
                        Stores.postgres("pg", PostgresServer.shared().newSchema("cli_bench"), true),
                        Stores.redis("redis", RedisServer.namespace(BenchCommandTest.class), false))
                .toString();
        new Cli(dir).run("migrate", "-c", config).expect(0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void benchReportsThroughputAndLatenciesUnderContention(String store) {
        Cli.Result r = new Cli(dir)
                .run(
                        "bench",
                        "-c",
                        config,
                        "--provider",
                        store,
                        "--threads",
                        "4",
                        "--keys",
                        "1",
                        "--duration",
                        "1s",
                        "--json")
                .expect(0);
        JsonNode json = r.json();
        assertEquals("lp_" + store, json.get("provider").asText());
        long operations = json.get("operations").asLong();
        assertTrue(operations > 0, r::toString);
        assertTrue(json.get("opsPerSecond").asDouble() > 0, r::toString);
        JsonNode acquire = json.get("acquireMicros");
        assertEquals(operations, acquire.get("count").asLong(), r::toString);
        assertTrue(acquire.get("p50").asLong() <= acquire.get("p99").asLong(), r::toString);
        assertTrue(acquire.get("p99").asLong() <= acquire.get("max").asLong(), r::toString);
        // Four callers on one key: most acquisitions waited for a release.
        JsonNode handover = json.get("handoverMicros");
        assertTrue(handover.get("count").asLong() > 0, r::toString);
        assertTrue(handover.get("p50").asLong() <= handover.get("max").asLong(), r::toString);
        assertTrue(json.get("error").isNull(), r::toString);
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("bench 100%")), r::toString);
    }

    @Test
    void benchTableShowsThroughputAndBothLatencies() {
        Cli.Result r = new Cli(dir)
                .run("bench", "-c", config, "--threads", "2", "--keys", "8", "--duration", "500ms")
                .expect(0);
        assertTrue(r.out().contains("Provider:   lp_pg (locking-postgres)"), r::toString);
        assertTrue(r.out().contains("ops/s"), r::toString);
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("LATENCY") && l.contains("P99")), r::toString);
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("acquire ")), r::toString);
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("hand-over ")), r::toString);
    }

    @Test
    void benchWithoutConfigurationLoadsInMemoryAndSaysSo() {
        Cli.Result r = new Cli(dir)
                .run("bench", "--duration", "300ms", "--threads", "2", "--json")
                .expect(0);
        assertEquals("lp_in-memory", r.json().get("provider").asText());
        assertTrue(r.err().contains("benchmarking the in-memory default"), r::toString);
    }
}
