package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.LockingProvider;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.PostgresServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The first call after start, while the pool is still opening its first connection. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresColdStartTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "coldstart");
    }

    @Test
    @DisplayName("the first call after start waits for the pool to open, also one that does not wait for the key")
    void theFirstCallWaitsForThePoolToOpen() {
        // Every reply 150 ms late: opening a connection (start-up, authentication, parameters) takes
        // several of them, far longer than the ~300 ms a caller that does not wait may spend.
        try (FaultyProxy slow = FaultyProxy.start("postgres-slow", server.host(), server.port())) {
            slow.delayReplies(Duration.ofMillis(150));
            String url = "jdbc:postgresql://" + slow.host() + ":" + slow.port() + "/" + server.database();
            Map<String, Object> options = TestModules.options(server, url, schema);
            options.put("notifications", "poll");
            options.put("pool", Map.of("minimumIdle", 0, "connectionTimeout", 10_000));
            String key = "cold-" + UUID.randomUUID();
            try (LockingProvider p = new PostgresLockingProviderFactory().create(new TestContext(options))) {
                long started = System.nanoTime();
                AcquireResult first = p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null, Duration.ZERO));
                long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                assertInstanceOf(AcquireResult.Acquired.class, first, "the first call, after " + millis + " ms");
                assertTrue(millis > 300, "opening took " + millis + " ms: the proxy did not slow it down");
                assertTrue(p.release(List.of(key), "A"));
            }
        }
    }
}
