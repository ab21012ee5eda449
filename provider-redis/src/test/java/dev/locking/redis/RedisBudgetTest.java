package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.servers.RedisClusterServer;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;

/**
 * An attempt's budget (the time left before its caller's deadline) bounds the wait for a pooled
 * connection: with the only connection busy, a zero-budget attempt is blocked at once, as for a
 * held key (its caller times out), instead of sitting out {@code pool.max-wait} or failing.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisBudgetTest {
    /** The budget plus the provider's grace, plus room for a slow test machine. */
    private static final long BOUND_MILLIS = 700;

    private static final long BLOCK_MILLIS = 2_500;

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
    }

    private static Map<String, Object> onePooledConnection(Map<String, Object> where) {
        Map<String, Object> options = new java.util.HashMap<>(where);
        options.put("pool", Map.of("max-total", 1, "max-idle", 1, "max-wait", "5s"));
        options.put("socket-timeout", "10s");
        return options;
    }

    @Test
    void aZeroBudgetAttemptDoesNotWaitOutThePoolOnAServer() throws Exception {
        RedisServer server = RedisServer.shared();
        TestContext context = new TestContext(onePooledConnection(
                Map.of("url", server.url(), "namespace", RedisServer.namespace(RedisBudgetTest.class))));
        try (RedisLockingProvider provider = context.open();
                Jedis raw = server.connect()) {
            checkBounded(provider, "budget-key", "budget-list", () -> raw.clientList());
        }
    }

    @Test
    void aZeroBudgetAttemptDoesNotWaitOutThePoolOnACluster() throws Exception {
        RedisClusterServer cluster = RedisClusterServer.shared();
        TestContext context = new TestContext(onePooledConnection(
                Map.of("cluster-nodes", cluster.seeds(), "namespace", RedisServer.namespace(RedisBudgetTest.class))));
        try (RedisLockingProvider provider = context.open()) {
            // The lock's records and the blocking list share a slot, so they share a node's pool.
            checkBounded(provider, "{budget}:key", "{budget}:list", () -> {
                StringBuilder all = new StringBuilder();
                for (var master : cluster.masters())
                    try (Jedis node = RedisClusterServer.connect(master)) {
                        all.append(node.clientList());
                    }
                return all.toString();
            });
        }
    }

    private void checkBounded(RedisLockingProvider provider, String key, String list, Supplier<String> clients)
            throws Exception {
        // Scripts loaded and the connection made, so the attempts below only wait for the pool.
        assertInstanceOf(
                AcquireResult.Acquired.class, provider.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
        assertTrue(provider.release(List.of(key), "A"));
        String name = provider.store().clientName();
        Future<?> busy = pool.submit(() ->
                provider.store().call("hold the only connection", jedis -> jedis.blpop(BLOCK_MILLIS / 1000.0, list)));
        RedisServerWait.until(
                () -> clients.get()
                        .lines()
                        .anyMatch(line -> line.contains("name=" + name) && line.contains("cmd=blpop")),
                "the pool's only connection busy in BLPOP");

        for (Duration budget : List.of(Duration.ZERO, Duration.ofMillis(300))) {
            long started = System.nanoTime();
            assertInstanceOf(
                    AcquireResult.Blocked.class,
                    provider.tryAcquire(new AcquireRequest(List.of(key), "A", null, null, budget)),
                    "budget " + budget + ": the busy pool is a key not taken in time");
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(
                    tookMillis < budget.toMillis() + BOUND_MILLIS, "budget " + budget + " took " + tookMillis + " ms");
        }
        // Without a budget, a call waits for the connection as before (pool.max-wait).
        assertInstanceOf(
                AcquireResult.Acquired.class, provider.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
        busy.get(10, TimeUnit.SECONDS);
        assertTrue(provider.release(List.of(key), "A"));
    }
}
