package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Faults on a real server: Redis stopped and started again (a restart without persistence forgets
 * every lock), as the issue asks. The server is always running again when a test ends.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisFaultTest {
    private static final RedisServer server = RedisServer.shared();
    private static final String NAMESPACE = RedisServer.namespace(RedisFaultTest.class);

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void cleanUp() throws InterruptedException {
        server.start(); // a no-op when it is up
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
    }

    private static LockingModule module() {
        return RedisTestConfig.module(Map.of(
                "url", server.url(),
                "namespace", NAMESPACE,
                "poll-interval", "200ms",
                "waiter-expiry", "3s",
                "connect-timeout", "500ms",
                "socket-timeout", "1s"));
    }

    @Test
    void outageFailsCallsClearlyAndTheProviderRecoversAfterwards() {
        try (LockingModule locking = module()) {
            locking.acquire("held-before", LockOptions.defaults().owner("A"));
            server.stop();
            LockingException outage = assertThrows(
                    LockingException.class,
                    () -> locking.acquire("during", LockOptions.defaults().owner("A")));
            assertFalse(outage instanceof LockAcquisitionException, "an outage is not a held key");
            assertTrue(outage.getMessage().contains("lp_redis-lock"), outage.getMessage());
            assertTrue(outage.getMessage().contains("check that Redis is running"), outage.getMessage());
            assertThrows(
                    LockingException.class,
                    () -> locking.release("held-before", LockOptions.defaults().owner("A")));

            server.start();
            // Redis without persistence forgot the lock: anyone may take it now (docs/redis.md, durability).
            locking.acquire("held-before", LockOptions.defaults().owner("B"));
            assertTrue(locking.release("held-before", LockOptions.defaults().owner("B")));
            locking.acquire("after", LockOptions.defaults().owner("A"));
            assertEquals(1, locking.releaseAll(LockOptions.defaults().owner("A")));
        }
    }

    @Test
    void subscriberReconnectsAfterARestart() throws Exception {
        TestContext context = new TestContext(Map.of("url", server.url(), "namespace", NAMESPACE));
        try (RedisLockingProvider provider = context.open()) {
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of("n"), "holder", null, null)));
            provider.tryAcquire(new AcquireRequest(List.of("n"), "W", null, "w1"));
            RedisServerWait.until(() -> provider.subscriber().subscribed(), "first subscription");
            server.restart();
            RedisServerWait.until(() -> provider.subscriber().subscriptions() >= 2, "subscription after the restart");
            // The restart forgot the lock and the queue; a new holder and waiter, then a release.
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of("n"), "holder", null, null)));
            provider.tryAcquire(new AcquireRequest(List.of("n"), "W", null, "w2"));
            context.released.clear();
            assertTrue(provider.release(List.of("n"), "holder"));
            assertEquals("n", context.released.poll(10, TimeUnit.SECONDS), "notified through the new connection");
            provider.leaveQueue(List.of("n"), "w2");
        }
    }

    @Test
    void executeWhoseLeaseVanishedInARestartSeesItLost() throws Exception {
        try (LockingModule locking = module()) {
            CountDownLatch running = new CountDownLatch(1);
            AtomicBoolean sawLost = new AtomicBoolean();
            Future<Object> job = pool.submit(() -> locking.execute(
                    "job",
                    lock -> {
                        running.countDown();
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                        while (!lock.isLost() && System.nanoTime() < deadline) Thread.sleep(20);
                        sawLost.set(lock.isLost());
                        return "done";
                    },
                    LockOptions.defaults().expire(Duration.ofMillis(900))));
            assertTrue(running.await(20, TimeUnit.SECONDS));
            server.restart();
            var failure =
                    assertThrows(java.util.concurrent.ExecutionException.class, () -> job.get(40, TimeUnit.SECONDS));
            assertInstanceOf(LockLostException.class, failure.getCause());
            assertTrue(sawLost.get(), "the job saw isLost() while it ran");
        }
    }
}
