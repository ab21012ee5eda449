package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockingException;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.servers.RedisReplicaPair;
import dev.locking.testkit.servers.RedisServer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Redis replication is asynchronous: a master that dies takes the writes its replica had not
 * received, fencing counters among them. Tokens never fall below the server's clock in
 * microseconds, so they keep growing on the promoted replica as long as its clock is not behind the
 * old master's by more than the time between the last grant there and the first one after.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisFailoverTokenTest {

    @Test
    void fencingTokensKeepGrowingAfterAFailoverToAReplicaThatMissedTheCounter() {
        try (RedisReplicaPair pair = RedisReplicaPair.start()) {
            Map<String, Object> options = new HashMap<>(
                    RedisTestConfig.standalone(pair.url(), RedisServer.namespace(RedisFailoverTokenTest.class)));
            try (RedisLockingProvider provider = new TestContext(options).open()) {
                List<String> k = List.of("k");
                grant(provider, k, "A");
                pair.awaitReplicaCaughtUp();
                pair.lagReplica();
                long last = 0;
                for (int i = 0; i < 5; i++) last = grant(provider, k, "A");

                pair.failover();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                Long after = null;
                while (after == null) {
                    try {
                        after = grant(provider, k, "B");
                    } catch (LockingException e) {
                        // The promoted replica answers in a moment.
                        assertTrue(System.nanoTime() < deadline, "no grant after the failover: " + e.getMessage());
                    }
                }
                assertTrue(
                        after > last,
                        "the first token after the failover (" + after + ") is above the last one before it (" + last
                                + "), which the replica never received");
            }
        }
    }

    /** Takes and releases {@code keys}; the fencing token of the grant. */
    private static long grant(RedisLockingProvider provider, List<String> keys, String owner) {
        AcquireResult result = provider.tryAcquire(new AcquireRequest(keys, owner, null, null));
        assertTrue(result instanceof AcquireResult.Acquired, "not granted: " + result);
        long token = ((AcquireResult.Acquired) result).fencingTokens().get(keys.get(0));
        assertTrue(provider.release(keys, owner));
        return token;
    }
}
