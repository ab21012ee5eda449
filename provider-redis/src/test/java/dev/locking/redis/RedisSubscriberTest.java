package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.RedisServer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The one subscriber connection of a registration carries every push wake-up. Behind a proxy, its
 * connection alone goes half-open (a black hole: the socket stays open, nothing passes), as when a
 * host vanishes or a firewall drops its state; the pool's connection is left alone.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisSubscriberTest {
    private static final String NAMESPACE = RedisServer.namespace(RedisSubscriberTest.class);

    @Test
    void aBlackHoledSubscriberIsReplacedWithinSecondsAndWakeUpsResume() throws InterruptedException {
        RedisServer server = RedisServer.shared();
        try (FaultyProxy proxy = FaultyProxy.start("redis", server.host(), server.port())) {
            String url = server.url().replace(server.host() + ":" + server.port(), proxy.host() + ":" + proxy.port());
            Map<String, Object> options = new HashMap<>(RedisTestConfig.standalone(url, NAMESPACE));
            // One pooled connection, opened before the subscriber's, so the subscriber's is the only new link.
            options.put("pool", Map.of("max-total", 1, "max-idle", 1));
            TestContext context = new TestContext(options);
            try (RedisLockingProvider provider = context.open()) {
                assertInstanceOf(
                        AcquireResult.Acquired.class,
                        provider.tryAcquire(new AcquireRequest(List.of("k"), "A", null, null)));
                long mark = proxy.mark();
                assertInstanceOf(
                        AcquireResult.Blocked.class,
                        provider.tryAcquire(new AcquireRequest(List.of("k"), "B", null, "waiter-B")));
                RedisServerWait.until(() -> provider.subscriber().subscribed(), "the subscription");
                List<FaultyProxy.Link> opened = proxy.linksOpenedAfter(mark);
                assertEquals(1, opened.size(), "only the subscriber opened a connection: " + proxy.describeLinks());

                opened.get(0).blackHole();
                // The generous bound of RedisServerWait (15 s) is the test's limit; the watchdog needs about 3 s.
                RedisServerWait.until(
                        () -> provider.subscriber().subscriptions() >= 2, "a new subscription after the black hole");

                context.released.clear();
                assertTrue(provider.release(List.of("k"), "A"));
                assertEquals(
                        "k",
                        context.released.poll(10, TimeUnit.SECONDS),
                        "the release woke the waiter's process through the new subscription");
            }
        }
    }
}
