package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A free key is kept for the first waiter in its queue; when that waiter's process died, the key
 * must go to the next live waiter no later than the dead one's entry expires ({@code
 * waiter-expiry} after its last sign of life), plus the live waiter's poll.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisDeadWaiterTest {
    private static final Duration WAITER_EXPIRY = Duration.ofSeconds(1);
    private static final Duration POLL = Duration.ofMillis(200);

    @Test
    void aReleasedKeyWaitsForADeadWaiterNoLongerThanTheWaiterExpiry() throws InterruptedException {
        Map<String, Object> options = new HashMap<>(RedisTestConfig.standalone(
                RedisServer.shared().url(), RedisServer.namespace(RedisDeadWaiterTest.class)));
        options.put("waiter-expiry", WAITER_EXPIRY.toMillis() + "ms");
        options.put("poll-interval", POLL.toMillis() + "ms");
        try (RedisLockingProvider provider = new TestContext(options).open()) {
            List<String> k = List.of("k");
            assertInstanceOf(
                    AcquireResult.Acquired.class, provider.tryAcquire(new AcquireRequest(k, "holder", null, null)));
            // The dead waiter queues first, then never refreshes its place nor leaves: its process died.
            assertInstanceOf(
                    AcquireResult.Blocked.class,
                    provider.tryAcquire(new AcquireRequest(k, "dead", null, "dead-waiter")));
            long deadLastSeen = System.nanoTime();
            assertInstanceOf(
                    AcquireResult.Blocked.class,
                    provider.tryAcquire(new AcquireRequest(k, "live", null, "live-waiter")));

            assertTrue(provider.release(k, "holder"));
            // The live waiter does what core does: refreshes its place and tries once per poll.
            long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!(provider.tryAcquire(new AcquireRequest(k, "live", null, "live-waiter"))
                    instanceof AcquireResult.Acquired)) {
                assertTrue(System.nanoTime() < giveUp, "the live waiter never got the key");
                provider.refreshWaiters(Map.of("live-waiter", k));
                Thread.sleep(POLL.toMillis());
            }
            long heldForTheDeadMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - deadLastSeen);
            long bound = WAITER_EXPIRY.plus(POLL).plusMillis(500).toMillis();
            assertTrue(
                    heldForTheDeadMillis <= bound,
                    "the key went to the live waiter " + heldForTheDeadMillis + " ms after the dead one's last sign"
                            + " of life; bound " + bound + " ms");
            assertTrue(provider.release(k, "live"));
        }
    }
}
