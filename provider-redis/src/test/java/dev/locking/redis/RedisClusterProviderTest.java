package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.servers.RedisClusterServer;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisDataException;

/** Cluster-specific behaviour on a real Redis Cluster: slots, hash tags, cross-slot rollback, failover. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class RedisClusterProviderTest {

    private static TestContext context(RedisClusterServer cluster) {
        return new TestContext(Map.of(
                "cluster-nodes",
                cluster.seeds(),
                "namespace",
                RedisServer.namespace(RedisClusterProviderTest.class),
                "poll-interval",
                "200ms",
                "waiter-expiry",
                "3s"));
    }

    private static long evalshaCalls(RedisClusterServer cluster) {
        long calls = 0;
        for (HostAndPort master : cluster.masters()) {
            try (Jedis jedis = RedisClusterServer.connect(master)) {
                for (String line : jedis.info("commandstats").split("\r?\n"))
                    if (line.startsWith("cmdstat_evalsha:"))
                        calls += Long.parseLong(line.replaceAll("^cmdstat_evalsha:calls=(\\d+),.*", "$1"));
            }
        }
        return calls;
    }

    /** The master serving {@code key}: the others answer MOVED. */
    private static HostAndPort masterOf(RedisClusterServer cluster, String key) {
        for (HostAndPort master : cluster.masters()) {
            try (Jedis jedis = RedisClusterServer.connect(master)) {
                jedis.exists(key);
                return master;
            } catch (JedisDataException moved) {
                // not this one
            }
        }
        throw new AssertionError("no master serves " + key);
    }

    @Test
    void hashTaggedKeysAreTakenByOneScriptOnOneNode() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        try (RedisLockingProvider provider = context(cluster).open()) {
            List<String> keys = List.of("{order-42}:a", "{order-42}:b", "{order-42}:c");
            provider.tryAcquire(new AcquireRequest(List.of("warm-up"), "A", null, null)); // scripts loaded
            long before = evalshaCalls(cluster);
            assertInstanceOf(
                    AcquireResult.Acquired.class, provider.tryAcquire(new AcquireRequest(keys, "A", null, null)));
            assertEquals(2, evalshaCalls(cluster) - before, "one script for the three locks, one for the owner index");
            assertEquals(4, provider.releaseAll("A"));
        }
    }

    @Test
    void crossSlotAcquireRollsBackEarlierSlotsAndKeepsReenteredLocks() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        TestContext context = context(cluster);
        try (RedisLockingProvider provider = context.open();
                Jedis raw = RedisClusterServer.connect(cluster.masters().get(0))) {
            RedisKeys keys = provider.keys();
            // Three keys in three different slots, in slot order: first, middle, last.
            List<String> sorted = List.of("alpha", "bravo", "charlie", "delta", "echo").stream()
                    .sorted(java.util.Comparator.comparingInt(keys::slot))
                    .toList();
            String first = sorted.get(0), middle = sorted.get(1), last = sorted.get(4);
            assertNotEquals(keys.slot(first), keys.slot(last));
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of(middle), "A", Duration.ofSeconds(30), null)));
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of(last), "B", null, null)));

            AcquireResult result = provider.tryAcquire(
                    new AcquireRequest(List.of(first, middle, last), "A", Duration.ofSeconds(120), "waiter-A"));
            AcquireResult.Blocked blocked = assertInstanceOf(AcquireResult.Blocked.class, result);
            assertEquals(last, blocked.key());

            try (Jedis node = RedisClusterServer.connect(masterOf(cluster, keys.lock(first)))) {
                assertFalse(node.exists(keys.lock(first)), "the first slot's key was rolled back");
            }
            try (Jedis node = RedisClusterServer.connect(masterOf(cluster, keys.lock(middle)))) {
                long ttl = node.pttl(keys.lock(middle));
                assertTrue(ttl > 0 && ttl <= 30_000, "A's own lock stays, with its old lease: " + ttl);
            }
            for (String key : List.of(first, middle, last)) {
                try (Jedis node = RedisClusterServer.connect(masterOf(cluster, keys.queue(key)))) {
                    assertEquals(List.of("waiter-A"), node.zrange(keys.queue(key), 0, -1), "queued on " + key);
                }
            }
            provider.leaveQueue(List.of(first, middle, last), "waiter-A");
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of(first), "C", null, null)));
            assertTrue(provider.release(List.of(first), "C"));
            assertTrue(provider.release(List.of(middle), "A"));
            assertEquals(1, provider.releaseAll("B"));
            raw.ping();
        }
    }

    @Test
    void locksSurviveAManualFailoverAndCallsGoOnAfterAMasterDies() {
        try (RedisClusterServer cluster = RedisClusterServer.start();
                RedisLockingProvider provider = context(cluster).open()) {
            String key = "failover";
            long token = assertInstanceOf(
                            AcquireResult.Acquired.class,
                            provider.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)))
                    .fencingTokens()
                    .get(key);
            HostAndPort master = masterOf(cluster, provider.keys().lock(key));
            HostAndPort promoted = cluster.failover(master);
            assertEquals(promoted, masterOf(cluster, provider.keys().lock(key)));

            assertInstanceOf(
                    AcquireResult.Blocked.class,
                    provider.tryAcquire(new AcquireRequest(List.of(key), "B", null, null)));
            assertTrue(provider.release(List.of(key), "A"), "the lock moved with its slot");

            // A master killed outright: writes not yet replicated may be lost (asynchronous replication),
            // but the provider follows the new topology and tokens still grow.
            cluster.killMaster(promoted);
            AcquireResult after = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (after == null) {
                try {
                    after = provider.tryAcquire(new AcquireRequest(List.of(key), "C", null, null));
                } catch (dev.locking.api.LockingException e) {
                    if (System.nanoTime() > deadline) throw e;
                }
            }
            long newToken = assertInstanceOf(AcquireResult.Acquired.class, after)
                    .fencingTokens()
                    .get(key);
            assertTrue(newToken > token, token + " then " + newToken);
            assertTrue(provider.release(List.of(key), "C"));
        }
    }

    @Test
    void listFindsTheLocksOfEveryMaster() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        try (RedisLockingProvider provider = context(cluster).open()) {
            RedisKeys keys = provider.keys();
            // Keys until every master holds at least two, with glob characters and every body form.
            java.util.Map<HostAndPort, Integer> perMaster = new java.util.HashMap<>();
            java.util.TreeSet<String> all = new java.util.TreeSet<>();
            for (int i = 0; perMaster.size() < cluster.masters().size() || perMaster.containsValue(1); i++) {
                String key =
                        switch (i % 3) {
                            case 0 -> "*k" + i + "?";
                            case 1 -> "{t" + i + "}:[x]";
                            default -> "a}" + i;
                        };
                all.add(key);
                perMaster.merge(masterOf(cluster, keys.lock(key)), 1, Integer::sum);
            }
            List<String> sorted = List.copyOf(all);
            List<String> owned = sorted.subList(0, sorted.size() / 2);
            List<String> anonymous = sorted.subList(sorted.size() / 2, sorted.size());
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(owned, "A", Duration.ofSeconds(30), null)));
            assertInstanceOf(
                    AcquireResult.Acquired.class, provider.tryAcquire(new AcquireRequest(anonymous, null, null, null)));

            List<dev.locking.spi.HeldLock> listed = provider.list(null, 10_000).orElseThrow();
            assertEquals(
                    sorted, listed.stream().map(dev.locking.spi.HeldLock::key).toList(), "every master's locks");
            for (dev.locking.spi.HeldLock lock : listed) {
                boolean isOwned = owned.contains(lock.key());
                assertEquals(isOwned ? "A" : null, lock.owner(), lock.key());
                assertEquals(isOwned, lock.expiresAt() != null, lock.key());
            }
            assertEquals(
                    owned,
                    provider.list("A", 10_000).orElseThrow().stream()
                            .map(dev.locking.spi.HeldLock::key)
                            .toList());
            assertEquals(
                    sorted.subList(0, 3),
                    provider.list(null, 3).orElseThrow().stream()
                            .map(dev.locking.spi.HeldLock::key)
                            .toList());

            assertEquals(owned.size(), provider.releaseAll("A"));
            assertEquals(anonymous.size(), provider.releaseAll(null));
            assertEquals(List.of(), provider.list(null, 10).orElseThrow());
        }
    }
}
