package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.servers.RedisClusterServer;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientPauseMode;
import redis.clients.jedis.exceptions.JedisConnectionException;
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
    void undoFreesWhatItsCallTookInEverySlotAndItsIndexEntries() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        try (RedisLockingProvider provider = context(cluster).open()) {
            RedisKeys keys = provider.keys();
            List<String> sorted = List.of("undo-a", "undo-b", "undo-c", "undo-d", "undo-e").stream()
                    .sorted(java.util.Comparator.comparingInt(keys::slot))
                    .toList();
            String kept = sorted.get(0), first = sorted.get(2), last = sorted.get(4);
            assertNotEquals(keys.slot(first), keys.slot(last));
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of(kept), "A", null, null, null, "g0")));
            // One call across three slots: kept re-entered (A counts on it from g0), first and last taken free.
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of(kept, first, last), "A", null, null, null, "g1")));

            provider.undo(List.of(kept, first, last), "A", "g1");
            provider.undo(List.of(kept, first, last), "A", "g1"); // idempotent
            for (String key : List.of(first, last)) {
                try (Jedis node = RedisClusterServer.connect(masterOf(cluster, keys.lock(key)))) {
                    assertFalse(node.exists(keys.lock(key)), key + " was taken free by g1: freed");
                }
            }
            assertEquals(
                    List.of(kept),
                    provider.list("A", 10).orElseThrow().stream()
                            .map(dev.locking.spi.HeldLock::key)
                            .toList());
            String index = keys.ownerIndex("A");
            try (Jedis node = RedisClusterServer.connect(masterOf(cluster, index))) {
                assertEquals(java.util.Set.of(kept), node.hkeys(index), "the index lost the keys undone");
            }
            assertTrue(provider.release(List.of(kept), "A"));
            try (Jedis node = RedisClusterServer.connect(masterOf(cluster, index))) {
                assertFalse(node.exists(index));
            }
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

    /**
     * Two keys in different slots, {@code first} in the lower slot (its group is taken first);
     * with {@code apart}, on different masters too.
     */
    private static List<String> twoSlots(RedisClusterServer cluster, RedisKeys keys, String prefix, boolean apart) {
        for (int i = 0; i < 200; i++) {
            for (int j = 0; j < 200; j++) {
                String a = prefix + "-a" + i, b = prefix + "-b" + j;
                if (keys.slot(a) >= keys.slot(b)) continue;
                if (apart && masterOf(cluster, keys.lock(a)).equals(masterOf(cluster, keys.lock(b)))) continue;
                return List.of(a, b);
            }
        }
        throw new AssertionError("no two keys in different slots");
    }

    private static boolean exists(RedisClusterServer cluster, String record) {
        try (Jedis node = RedisClusterServer.connect(masterOf(cluster, record))) {
            return node.exists(record);
        }
    }

    /**
     * O re-acquires, with a new lease, a key whose short lease ends while a
     * later slot group is slow (its master paused). The re-entered key's renewal finds it gone: the
     * call must not report it held for the new lease, or another owner takes it meanwhile.
     */
    @Test
    void reacquireAcrossSlotsNearExpiryNeverReportsAnExpiredKeyAsHeld() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        TestContext context = context(cluster);
        try (RedisLockingProvider provider = context.open();
                RedisLockingProvider other = context.open()) {
            RedisKeys keys = provider.keys();
            List<String> pair = twoSlots(cluster, keys, "near-expiry", true);
            String k = pair.get(0), m = pair.get(1);
            List<String> both = pair.stream().sorted().toList();
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of(k), "O", Duration.ofMillis(200), null)));
            try (Jedis slow = RedisClusterServer.connect(masterOf(cluster, keys.lock(m)))) {
                slow.clientPause(700, ClientPauseMode.ALL); // m's group waits until k has expired
            }
            AcquireResult again = provider.tryAcquire(new AcquireRequest(both, "O", Duration.ofSeconds(60), null));
            AcquireResult byP = other.tryAcquire(new AcquireRequest(List.of(k), "P", Duration.ofSeconds(60), null));
            if (again instanceof AcquireResult.Acquired granted)
                assertInstanceOf(
                        AcquireResult.Blocked.class,
                        byP,
                        "O was told it holds " + both + " until " + granted.expiresAt() + ", yet P acquired " + k
                                + " too");
            AcquireResult.Blocked blocked = assertInstanceOf(AcquireResult.Blocked.class, again);
            assertEquals(k, blocked.key());
            assertInstanceOf(AcquireResult.Acquired.class, byP, "k had expired: P may take it");
            assertFalse(exists(cluster, keys.lock(m)), "what the failed call took is rolled back");
            assertTrue(other.release(List.of(k), "P"));
            assertEquals(0, provider.releaseAll("O"));
        }
    }

    /**
     * The reply of the first slot group's script is lost and the call retried
     * (same attempt id): the replay must still report the key as taken by this call, so that the
     * rollback after a later blocked group frees it.
     */
    @Test
    void grantReplayedAfterALostReplyIsRolledBackWhenALaterSlotIsBlocked() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        TestContext context = context(cluster);
        try (RedisLockingProvider provider = context.open();
                RedisLockingProvider other = context.open()) {
            RedisKeys keys = provider.keys();
            List<String> pair = twoSlots(cluster, keys, "lost-reply", false);
            String first = pair.get(0), last = pair.get(1);
            assertInstanceOf(
                    AcquireResult.Acquired.class, other.tryAcquire(new AcquireRequest(List.of(last), "B", null, null)));
            AtomicBoolean lost = new AtomicBoolean();
            provider.store().afterReply = what -> {
                if (what.equals("run acquire.lua") && lost.compareAndSet(false, true))
                    throw new JedisConnectionException("reply lost (simulated)");
            };
            AcquireResult result = provider.tryAcquire(
                    new AcquireRequest(pair.stream().sorted().toList(), "A", null, null));
            assertTrue(lost.get(), "the first group's reply was lost and the call retried");
            assertEquals(
                    last, assertInstanceOf(AcquireResult.Blocked.class, result).key());
            assertFalse(exists(cluster, keys.lock(first)), first + " is not left held (forever: no lease)");
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    other.tryAcquire(new AcquireRequest(List.of(first), "C", null, null)));
            assertTrue(other.release(List.of(first), "C"));
            assertTrue(other.release(List.of(last), "B"));
        }
    }

    /** The other rollback after a replayed grant: the owner index cannot be written. */
    @Test
    void grantReplayedAfterALostReplyIsRolledBackWhenTheIndexCannotBeWritten() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        try (RedisLockingProvider provider = context(cluster).open()) {
            RedisKeys keys = provider.keys();
            String key = "lost-reply-index";
            AtomicBoolean lost = new AtomicBoolean();
            provider.store().afterReply = what -> {
                if (what.equals("run acquire.lua") && lost.compareAndSet(false, true))
                    throw new JedisConnectionException("reply lost (simulated)");
                if (what.equals("run index-add.lua")) throw new JedisDataException("index not writable (simulated)");
            };
            assertThrows(
                    dev.locking.api.LockingException.class,
                    () -> provider.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
            assertTrue(lost.get());
            assertFalse(exists(cluster, keys.lock(key)), "the caller was told it failed: the key is free");
            provider.store().afterReply = what -> {};
            assertEquals(0, provider.releaseAll("A"));
        }
    }

    /**
     * A waiter granted an earlier slot group and blocked on a later one is put
     * back in the earlier group's queues in the same step that frees its keys, so a caller that came
     * later cannot take them in between.
     */
    @Test
    void rollbackKeepsTheWaitersPlaceOnTheKeysItFreed() {
        RedisClusterServer cluster = RedisClusterServer.shared();
        TestContext context = context(cluster);
        try (RedisLockingProvider provider = context.open();
                RedisLockingProvider other = context.open()) {
            RedisKeys keys = provider.keys();
            List<String> pair = twoSlots(cluster, keys, "fair", false);
            String first = pair.get(0), last = pair.get(1);
            assertInstanceOf(
                    AcquireResult.Acquired.class, other.tryAcquire(new AcquireRequest(List.of(last), "H", null, null)));
            AtomicReference<AcquireResult> latecomer = new AtomicReference<>();
            provider.store().afterReply = what -> {
                if (what.equals("run rollback.lua") && latecomer.get() == null)
                    latecomer.set(other.tryAcquire(new AcquireRequest(List.of(first), "X", null, null)));
            };
            AcquireResult result = provider.tryAcquire(
                    new AcquireRequest(pair.stream().sorted().toList(), "W", null, "w-early"));
            assertEquals(
                    last, assertInstanceOf(AcquireResult.Blocked.class, result).key());
            assertNotNull(latecomer.get(), "the latecomer tried right after the rollback");
            AcquireResult.Blocked behind = assertInstanceOf(
                    AcquireResult.Blocked.class, latecomer.get(), "a later caller took " + first + " from the waiter");
            assertEquals("w-early", behind.aheadWaiterId());
            provider.store().afterReply = what -> {};
            provider.leaveQueue(pair, "w-early");
            assertTrue(other.release(List.of(last), "H"));
            assertEquals(0, other.releaseAll("X"));
        }
    }
}
