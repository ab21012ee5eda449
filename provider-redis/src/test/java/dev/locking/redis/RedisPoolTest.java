package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A pool far smaller than the crowd of callers: every caller waits its turn for a connection
 * within its own timeout, and no release is lost to the busy pool. Replies are slowed by a proxy
 * (20 ms each) so that 16 connections serve at most ~800 calls a second and the queue for them is
 * seconds long, as with a slower server or thousands of virtual threads.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class RedisPoolTest {
    private static final String NAMESPACE = RedisServer.namespace(RedisPoolTest.class);
    private static final int THREADS = 2_000;
    private static final int KEYS = 50;

    @Test
    void twoThousandCallersOnSixteenConnectionsAllGetTheirKeysAndEveryReleaseSucceeds() throws Exception {
        RedisServer server = RedisServer.shared();
        try (FaultyProxy proxy = FaultyProxy.start("redis", server.host(), server.port())) {
            proxy.delayReplies(Duration.ofMillis(20));
            String url = server.url().replace(server.host() + ":" + server.port(), proxy.host() + ":" + proxy.port());
            Map<String, Object> options = new HashMap<>(RedisTestConfig.standalone(url, NAMESPACE));
            options.put("pool", Map.of("max-total", 16, "max-idle", 16));
            try (LockingModule locking = RedisTestConfig.module(options)) {
                AtomicInteger acquired = new AtomicInteger();
                AtomicInteger released = new AtomicInteger();
                Queue<String> failures = new ConcurrentLinkedQueue<>();
                CountDownLatch start = new CountDownLatch(1);
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < THREADS; i++) {
                    String key = "k" + (i % KEYS);
                    LockOptions who = LockOptions.defaults()
                            .owner("caller-" + i)
                            .timeout(Duration.ofSeconds(120))
                            .expire(Duration.ofSeconds(60));
                    Thread thread = new Thread(
                            () -> {
                                try {
                                    start.await();
                                    locking.acquire(key, who);
                                    acquired.incrementAndGet();
                                    if (locking.release(key, who)) released.incrementAndGet();
                                    else failures.add(key + ": release found the key not held");
                                } catch (Exception e) {
                                    failures.add(key + ": " + e);
                                }
                            },
                            "caller-" + i);
                    thread.setDaemon(true);
                    threads.add(thread);
                    thread.start();
                }
                start.countDown();
                for (Thread thread : threads) thread.join(TimeUnit.SECONDS.toMillis(240));

                List<String> firstFailures = failures.stream().limit(5).toList();
                assertEquals(0, failures.size(), failures.size() + " calls failed, e.g. " + firstFailures);
                assertEquals(THREADS, acquired.get(), "every caller got its key within its timeout");
                assertEquals(THREADS, released.get(), "every release succeeded");
                assertTrue(
                        locking.locks(LockOptions.defaults(), 10).isEmpty(),
                        "nothing is left held: " + locking.locks(LockOptions.defaults(), 10));
            }
        }
    }
}
