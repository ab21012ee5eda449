package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockingException;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisPubSub;

/** Redis-specific behaviour on a real standalone server, through the SPI and the raw keys. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedisProviderTest {
    private static final RedisServer server = RedisServer.shared();

    private String namespace;
    private TestContext context;
    private RedisLockingProvider provider;
    private Jedis raw;
    private final List<RedisLockingProvider> others = new ArrayList<>();

    @BeforeEach
    void open() {
        namespace = RedisServer.namespace(RedisProviderTest.class);
        context = new TestContext(options(namespace));
        provider = context.open();
        raw = server.connect();
    }

    @AfterEach
    void close() {
        provider.close();
        others.forEach(RedisLockingProvider::close);
        raw.close();
    }

    private static Map<String, Object> options(String namespace) {
        return Map.of("url", server.url(), "namespace", namespace, "poll-interval", "100ms", "waiter-expiry", "500ms");
    }

    private RedisLockingProvider another(String namespace) {
        RedisLockingProvider other = new TestContext(options(namespace)).open();
        others.add(other);
        return other;
    }

    private static AcquireRequest take(List<String> keys, String owner) {
        return new AcquireRequest(keys, owner, null, null);
    }

    private static AcquireResult.Acquired acquired(AcquireResult result) {
        return assertInstanceOf(AcquireResult.Acquired.class, result);
    }

    private static AcquireResult.Blocked blocked(AcquireResult result) {
        return assertInstanceOf(AcquireResult.Blocked.class, result);
    }

    @Test
    void bulkRefreshKeepsParkedWaitersInLineAndNeverRequeuesOneThatLeft() throws InterruptedException {
        RedisKeys keys = provider.keys();
        acquired(provider.tryAcquire(take(List.of("r1"), "holder")));
        blocked(provider.tryAcquire(new AcquireRequest(List.of("r1", "r2"), "w", null, "waiter-1")));
        Double first = raw.zscore(keys.deadlines("r1"), "waiter-1");
        assertNotNull(first, "the blocked waiter is queued on r1");
        Thread.sleep(300);
        assertTrue(provider.refreshWaiters(Map.of("waiter-1", List.of("r1", "r2"), "gone", List.of("r1"))));
        double refreshed = raw.zscore(keys.deadlines("r1"), "waiter-1");
        assertTrue(refreshed >= first + 250, "deadline pushed back: " + first + " -> " + refreshed);
        assertNotNull(raw.zscore(keys.deadlines("r2"), "waiter-1"), "on every key of the wait");
        assertNull(raw.zscore(keys.deadlines("r1"), "gone"), "a waiter not in line is not put back in line");
        Thread.sleep(300);
        // 600 ms after it queued, past its 500 ms lifetime without the refresh, it is still first in line.
        AcquireResult.Blocked later =
                blocked(provider.tryAcquire(new AcquireRequest(List.of("r1"), "x", null, "waiter-2")));
        assertEquals("r1", later.key());
        assertTrue(provider.release(List.of("r1"), "holder"));
        AcquireResult.Blocked jumped =
                blocked(provider.tryAcquire(new AcquireRequest(List.of("r1"), "x", null, "waiter-2")));
        assertEquals("waiter-1", jumped.aheadWaiterId(), "the refreshed waiter keeps its place");
        provider.leaveQueue(List.of("r1", "r2"), "waiter-1");
        provider.leaveQueue(List.of("r1"), "waiter-2");
    }

    @Test
    void keyLayoutKeepsEveryRecordOfAKeyInOneSlotAndHonoursUserHashTags() {
        RedisKeys keys = provider.keys();
        assertEquals(namespace + "l:{order-42}:a", keys.lock("{order-42}:a"));
        assertEquals(keys.slot("{order-42}:a"), keys.slot("{order-42}:b"), "one hash tag, one slot");
        assertEquals(
                redis.clients.jedis.util.JedisClusterCRC16.getSlot("order-42"),
                keys.slot("x:{order-42}:c"),
                "the slot Redis gives the tag itself");
        assertEquals(namespace + "l{item_1}", keys.lock("item_1"));
        for (String key : List.of("item_1", "{order-42}:a", "}x", "{}y", "a}b{c", "{", "{a{b}")) {
            int slot = redis.clients.jedis.util.JedisClusterCRC16.getSlot(keys.lock(key));
            for (String record : List.of(keys.fence(key), keys.queue(key), keys.deadlines(key)))
                assertEquals(slot, redis.clients.jedis.util.JedisClusterCRC16.getSlot(record), record);
        }
    }

    @Test
    void keysThatLookAlikeAfterWrappingStayDistinctLocks() {
        List<String> lookalikes = List.of("item_1", "{item_1}", "a}b", "{a}b}", "#{1}x", "l{x}", "}x");
        for (String key : lookalikes) acquired(provider.tryAcquire(take(List.of(key), "A")));
        Set<String> locks = new TreeSet<>();
        for (String key : lookalikes) locks.add(provider.keys().lock(key));
        assertEquals(lookalikes.size(), locks.size(), "one lock record per key: " + locks);
        for (String key : lookalikes) assertTrue(provider.release(List.of(key), "A"), key);
    }

    @Test
    void hostileKeysAndOwnersAreOnlyScriptArguments() {
        String evil = "x']]) redis.call('FLUSHALL') --";
        String glob = "*";
        raw.set(namespace + "canary", "alive");
        acquired(provider.tryAcquire(take(List.of(evil, glob, "\n\t \"'\\"), evil)));
        blocked(provider.tryAcquire(take(List.of(glob), "someone else")));
        assertEquals(3, provider.releaseAll(evil));
        assertEquals("alive", raw.get(namespace + "canary"));
    }

    @Test
    void namespacesAreIsolatedAndReleaseAllTouchesNothingElse() {
        String otherNamespace = RedisServer.namespace(RedisProviderTest.class);
        RedisLockingProvider other = another(otherNamespace);
        acquired(provider.tryAcquire(take(List.of("k1", "k2"), "A")));
        acquired(other.tryAcquire(take(List.of("k1", "k2"), "A")));
        acquired(provider.tryAcquire(take(List.of("k3"), "B")));
        // Data that is not ours: a look-alike outside the namespace and a key inside it we never wrote.
        raw.set("l{k1}", "foreign");
        raw.set(namespace + "zz-foreign", "foreign");
        // A tampered index naming another owner's key must not free it either.
        raw.hset(provider.keys().ownerIndex("A"), "k3", "1");

        assertEquals(2, provider.releaseAll("A"));

        blocked(provider.tryAcquire(take(List.of("k3"), "A")));
        assertTrue(provider.release(List.of("k3"), "B"), "B's lock survived A's releaseAll");
        blocked(other.tryAcquire(take(List.of("k1"), "B")));
        assertTrue(other.release(List.of("k1", "k2"), "A"), "the other namespace kept its locks");
        assertEquals("foreign", raw.get("l{k1}"));
        assertEquals("foreign", raw.get(namespace + "zz-foreign"));
        raw.del("l{k1}");
    }

    @Test
    void releaseAllWithoutOwnerFreesOnlyAnonymousLocks() {
        acquired(provider.tryAcquire(take(List.of("anon1", "anon2"), null)));
        acquired(provider.tryAcquire(take(List.of("owned"), "A")));
        assertEquals(2, provider.releaseAll(null));
        assertFalse(provider.release(List.of("owned"), null));
        assertTrue(provider.release(List.of("owned"), "A"));
    }

    @Test
    void scriptsAreReloadedAfterScriptFlush() {
        acquired(provider.tryAcquire(take(List.of("s"), "A")));
        raw.scriptFlush();
        assertFalse(raw.scriptExists(LuaScript.ACQUIRE.sha()), "flushed");
        blocked(provider.tryAcquire(take(List.of("s"), "B")));
        assertTrue(raw.scriptExists(LuaScript.ACQUIRE.sha()), "loaded again on NOSCRIPT");
        raw.scriptFlush();
        assertTrue(provider.release(List.of("s"), "A"));
    }

    @Test
    void subSecondLeasesAreExactInMilliseconds() throws InterruptedException {
        AcquireResult.Acquired short1 =
                acquired(provider.tryAcquire(new AcquireRequest(List.of("short"), "A", Duration.ofMillis(150), null)));
        long ttl = raw.pttl(provider.keys().lock("short"));
        assertTrue(ttl > 0 && ttl <= 150, "PTTL " + ttl);
        Instant end = short1.expiresAt();
        assertNotNull(end);
        acquired(provider.tryAcquire(new AcquireRequest(List.of("odd"), "A", Duration.ofMillis(1500), null)));
        long odd = raw.pttl(provider.keys().lock("odd"));
        assertTrue(odd > 1000 && odd <= 1500, "1.5 s is 1.5 s, PTTL " + odd);
        Thread.sleep(300);
        acquired(provider.tryAcquire(take(List.of("short"), "B")));
        assertTrue(provider.release(List.of("short"), "B"));
        assertTrue(provider.release(List.of("odd"), "A"));
    }

    @Test
    void reentryKeepsTheLeaseUnlessANewOneIsGiven() {
        acquired(provider.tryAcquire(new AcquireRequest(List.of("r"), "A", Duration.ofSeconds(10), null)));
        AcquireResult.Acquired again = acquired(provider.tryAcquire(take(List.of("r"), "A")));
        long ttl = raw.pttl(provider.keys().lock("r"));
        assertTrue(ttl > 0 && ttl <= 10_000, "still a lease, PTTL " + ttl);
        assertNotNull(again.expiresAt(), "the re-entry reports the lease it kept");
        acquired(provider.tryAcquire(new AcquireRequest(List.of("r"), "A", Duration.ofSeconds(60), null)));
        assertTrue(raw.pttl(provider.keys().lock("r")) > 10_000, "a new lease replaces it");
        blocked(provider.tryAcquire(take(List.of("r"), null)));
        assertTrue(provider.release(List.of("r"), "A"));
    }

    @Test
    void fencingTokensKeepGrowingWhenTheCounterIsLost() {
        long first = acquired(provider.tryAcquire(take(List.of("f"), "A")))
                .fencingTokens()
                .get("f");
        assertTrue(provider.release(List.of("f"), "A"));
        raw.del(provider.keys().fence("f")); // a restart without persistence, or retention elapsed
        long second = acquired(provider.tryAcquire(take(List.of("f"), "B")))
                .fencingTokens()
                .get("f");
        assertTrue(second > first, first + " then " + second);
        raw.set(provider.keys().fence("f"), Long.toString(second + 1_000_000_000L)); // a counter ahead of time
        long third = acquired(provider.tryAcquire(take(List.of("f"), "B")))
                .fencingTokens()
                .get("f");
        assertEquals(second + 1_000_000_001L, third, "the counter, not the clock, when it is ahead");
        assertTrue(provider.release(List.of("f"), "B"));
    }

    @Test
    void fencingCounterIsKeptForItsRetentionAndOneThatHoldsNoNumberTakesNoKey() {
        long first = acquired(provider.tryAcquire(take(List.of("fr"), "A")))
                .fencingTokens()
                .get("fr");
        long ttl = raw.pttl(provider.keys().fence("fr"));
        assertTrue(
                ttl > Duration.ofMinutes(59).toMillis()
                        && ttl <= Duration.ofHours(1).toMillis(),
                "PTTL " + ttl);
        assertTrue(provider.release(List.of("fr"), "A"));

        Map<String, Object> keepForever = new LinkedHashMap<>(options(namespace));
        keepForever.put("fencing-counter-retention", "0");
        RedisLockingProvider forever = new TestContext(keepForever).open();
        others.add(forever);
        long second = acquired(forever.tryAcquire(take(List.of("fr"), "A")))
                .fencingTokens()
                .get("fr");
        assertTrue(second > first, first + " then " + second);
        assertEquals(-1, raw.pttl(provider.keys().fence("fr")), "retention 0 keeps the counter forever");
        assertTrue(forever.release(List.of("fr"), "A"));

        // Something else wrote the counter of the second key: the call fails and takes neither key.
        raw.set(provider.keys().fence("fr2"), "not a number");
        assertThrows(LockingException.class, () -> provider.tryAcquire(take(List.of("fr", "fr2"), "A")));
        assertFalse(raw.exists(provider.keys().lock("fr")));
        assertFalse(raw.exists(provider.keys().lock("fr2")));
        Map<String, Long> tokens =
                acquired(provider.tryAcquire(take(List.of("fr", "fr2"), "A"))).fencingTokens();
        assertTrue(tokens.get("fr") > second && tokens.get("fr2") > second, "floored at the clock: " + tokens);
        assertTrue(provider.release(List.of("fr", "fr2"), "A"));
    }

    @Test
    void anAcquireWhoseReplyWasLostIsAnsweredAgainNotBlockedByItself() {
        java.util.concurrent.atomic.AtomicBoolean lost = new java.util.concurrent.atomic.AtomicBoolean();
        provider.store().afterReply = what -> {
            if (what.equals("run acquire.lua") && lost.compareAndSet(false, true))
                throw new redis.clients.jedis.exceptions.JedisConnectionException("reply lost (simulated)");
        };
        AcquireResult.Acquired again = acquired(
                provider.tryAcquire(new AcquireRequest(List.of("lost1", "lost2"), "A", Duration.ofSeconds(30), null)));
        provider.store().afterReply = what -> {};
        assertTrue(lost.get(), "the first reply was lost and the call retried");
        for (String key : List.of("lost1", "lost2")) {
            assertEquals(
                    raw.hget(provider.keys().lock(key), "t"),
                    Long.toString(again.fencingTokens().get(key)),
                    "the replay answers the token of the one grant");
            assertNotNull(raw.hget(provider.keys().lock(key), "n"), "a replay, not a re-entry (which drops n)");
        }
        assertNotNull(again.expiresAt());
        assertEquals(List.of("lost1", "lost2"), keysOf(listed(provider, "A")));
        blocked(provider.tryAcquire(take(List.of("lost2"), "B")));
        assertEquals(2, provider.releaseAll("A"));
    }

    private static AcquireRequest call(List<String> keys, String owner, String waiter, String grantId) {
        return new AcquireRequest(keys, owner, null, waiter, null, grantId);
    }

    @Test
    void undoFreesExactlyTheKeysItsCallTookFreeAndTellsTheirWaiters() throws InterruptedException {
        acquired(provider.tryAcquire(call(List.of("u1"), "A", null, "g0")));
        // One call: u1 re-entered (A counts on it from g0), u2 taken free; u3 is someone else's.
        acquired(provider.tryAcquire(call(List.of("u1", "u2"), "A", null, "g1")));
        acquired(provider.tryAcquire(call(List.of("u3"), "B", null, "g3")));
        blocked(provider.tryAcquire(call(List.of("u2"), "W", "w1", "gw")));
        RedisServerWait.until(() -> provider.subscriber().subscribed(), "the subscription");
        context.released.clear();

        provider.undo(List.of("u1", "u2", "u3"), "A", "g1");
        assertFalse(raw.exists(provider.keys().lock("u2")), "taken free by g1: freed");
        assertEquals("u2", context.released.poll(10, TimeUnit.SECONDS), "its waiter is told, as on a release");
        assertEquals(List.of("u1"), keysOf(listed(provider, "A")), "the index keeps what A still holds");
        blocked(provider.tryAcquire(take(List.of("u1"), "C")));
        blocked(provider.tryAcquire(take(List.of("u3"), "C")));

        // Idempotent, and a re-entry by another call forgot g0: undoing g0 frees nothing either.
        provider.undo(List.of("u1", "u2", "u3"), "A", "g1");
        provider.undo(List.of("u1"), "A", "g0");
        provider.undo(List.of("u3"), "A", "g3");
        assertEquals(List.of("u1"), keysOf(listed(provider, "A")));
        assertEquals(List.of("u3"), keysOf(listed(provider, "B")), "another owner's key is never undone");
        provider.leaveQueue(List.of("u2"), "w1");

        // Attempts of one call keep its grant id; an anonymous lock is undone too, and no index is left.
        acquired(provider.tryAcquire(call(List.of("u4"), "A", null, "g4")));
        acquired(provider.tryAcquire(call(List.of("u4"), "A", null, "g4")));
        acquired(provider.tryAcquire(call(List.of("u5"), null, null, "g5")));
        provider.undo(List.of("u4"), "A", "g4");
        provider.undo(List.of("u5"), null, "g5");
        assertFalse(raw.exists(provider.keys().lock("u4")));
        assertFalse(raw.exists(provider.keys().lock("u5")));
        assertFalse(raw.exists(provider.keys().ownerIndex(null)), "no anonymous lock left, no index");

        assertTrue(provider.release(List.of("u1"), "A"));
        assertTrue(provider.release(List.of("u3"), "B"));
        assertFalse(raw.exists(provider.keys().ownerIndex("A")));
        assertFalse(raw.exists(provider.keys().ownerIndex("B")));
    }

    @Test
    void ownerIndexFollowsWhatIsHeldAndNeverShowsItsKeeper() {
        String index = provider.keys().ownerIndex("A");
        acquired(provider.tryAcquire(new AcquireRequest(List.of("i1"), "A", Duration.ofSeconds(10), null)));
        assertEquals(Set.of("", "i1"), raw.hkeys(index), "an index with an expiry has a keeper");
        long ttl = raw.pttl(index);
        assertTrue(ttl > 10_000 && ttl <= 20_000, "at least the lease, with room: PTTL " + ttl);
        acquired(provider.tryAcquire(new AcquireRequest(List.of("i0"), "A", Duration.ofSeconds(10), null)));
        assertTrue(provider.release(List.of("i1"), "A"));
        assertEquals(Set.of("", "i0"), raw.hkeys(index), "a release drops its entry");
        assertTrue(provider.release(List.of("i0"), "A"));
        assertFalse(raw.exists(index), "an owner that holds nothing has no index");
        assertEquals(List.of(), listed(provider, "A"));
        assertEquals(0, provider.releaseAll("A"));

        acquired(provider.tryAcquire(new AcquireRequest(List.of("i2", "i3"), "A", Duration.ofSeconds(10), null)));
        acquired(provider.tryAcquire(new AcquireRequest(List.of("i4"), "A", Duration.ofSeconds(60), null)));
        assertTrue(raw.pttl(index) > 60_000, "a longer lease extends the index: PTTL " + raw.pttl(index));
        acquired(provider.tryAcquire(new AcquireRequest(List.of("i5"), "A", Duration.ofSeconds(1), null)));
        assertTrue(raw.pttl(index) > 60_000, "a shorter lease never shortens it: PTTL " + raw.pttl(index));
        assertEquals(List.of("i2", "i3", "i4", "i5"), keysOf(listed(provider, "A")));
        assertEquals(4, provider.releaseAll("A"));
        assertFalse(raw.exists(index), "released all: no index");

        // A lock without lease keeps the index forever: then without keeper, gone with its last entry.
        acquired(provider.tryAcquire(new AcquireRequest(List.of("i6"), "A", Duration.ofSeconds(10), null)));
        acquired(provider.tryAcquire(take(List.of("forever"), "A")));
        assertEquals(-1, raw.pttl(index));
        assertEquals(Set.of("i6", "forever"), raw.hkeys(index));
        assertEquals(List.of("forever", "i6"), keysOf(listed(provider, "A")));
        assertEquals(2, provider.releaseAll("A"));
        assertFalse(raw.exists(index), "an index kept forever goes with its last entry");

        // The anonymous index follows the same rules.
        String anonymous = provider.keys().ownerIndex(null);
        acquired(provider.tryAcquire(new AcquireRequest(List.of("anon"), null, Duration.ofSeconds(10), null)));
        assertEquals(Set.of("", "anon"), raw.hkeys(anonymous));
        assertEquals(1, provider.releaseAll(null));
        assertFalse(raw.exists(anonymous));
    }

    @Test
    void aWaiterQueuedOnAnyKeyOfACallIsSeenEvenAmongMany() {
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 150; i++) many.add(String.format("m%03d", i));
        String queued = many.get(140); // in the second group of queue reads
        acquired(provider.tryAcquire(take(List.of(queued), "holder")));
        blocked(provider.tryAcquire(new AcquireRequest(List.of(queued), "w", null, "waiter-m")));
        assertTrue(provider.release(List.of(queued), "holder"));

        AcquireResult.Blocked jumped = blocked(provider.tryAcquire(take(many, "other")));
        assertEquals(queued, jumped.key());
        assertEquals("waiter-m", jumped.aheadWaiterId(), "a free key goes to the first in line");
        assertEquals(List.of(), listed(provider, null), "all or nothing");

        acquired(provider.tryAcquire(new AcquireRequest(List.of(queued), "w", null, "waiter-m")));
        assertFalse(raw.exists(provider.keys().queue(queued)), "the grant took the waiter out of line");
        assertTrue(provider.release(List.of(queued), "w"));
        acquired(provider.tryAcquire(take(many, "other")));
        assertEquals(150, provider.releaseAll("other"));
    }

    @Test
    void blockedWaiterIsQueuedOnEveryKeyAndOthersCannotJumpIt() {
        acquired(provider.tryAcquire(take(List.of("q1"), "holder")));
        AcquireResult.Blocked held = blocked(
                provider.tryAcquire(new AcquireRequest(List.of("q1", "q2"), "W", Duration.ofSeconds(5), "waiter-1")));
        assertEquals("q1", held.key());
        assertNull(held.aheadWaiterId(), "held, not reserved");
        assertNull(held.retryAfter(), "the holder has no lease");
        assertEquals(List.of("waiter-1"), raw.zrange(provider.keys().queue("q1"), 0, -1));
        assertEquals(List.of("waiter-1"), raw.zrange(provider.keys().queue("q2"), 0, -1));

        AcquireResult.Blocked reserved = blocked(provider.tryAcquire(take(List.of("q2"), "X")));
        assertEquals("waiter-1", reserved.aheadWaiterId(), "q2 is free but waiter-1 is first in line");

        provider.leaveQueue(List.of("q1", "q2"), "waiter-1");
        assertTrue(raw.zrange(provider.keys().queue("q2"), 0, -1).isEmpty());
        acquired(provider.tryAcquire(take(List.of("q2"), "X")));
        assertTrue(provider.release(List.of("q2"), "X"));
        assertTrue(provider.release(List.of("q1"), "holder"));
    }

    @Test
    void leaseOfTheBlockingKeyIsTheRetryHint() {
        acquired(provider.tryAcquire(new AcquireRequest(List.of("t"), "holder", Duration.ofSeconds(3), null)));
        AcquireResult.Blocked result = blocked(provider.tryAcquire(take(List.of("t"), "other")));
        assertNotNull(result.retryAfter());
        assertTrue(
                result.retryAfter().toMillis() > 0 && result.retryAfter().toMillis() <= 3000,
                result.retryAfter().toString());
        assertTrue(provider.release(List.of("t"), "holder"));
    }

    @Test
    void waiterThatStopsTryingLosesItsPlace() throws InterruptedException {
        acquired(provider.tryAcquire(take(List.of("d"), "holder")));
        blocked(provider.tryAcquire(new AcquireRequest(List.of("d"), "W", null, "dead-waiter")));
        assertTrue(provider.release(List.of("d"), "holder"));
        assertEquals(
                "dead-waiter",
                blocked(provider.tryAcquire(take(List.of("d"), "X"))).aheadWaiterId());
        Thread.sleep(700); // waiter-expiry is 500 ms in this test
        acquired(provider.tryAcquire(take(List.of("d"), "X")));
        assertTrue(provider.release(List.of("d"), "X"));
    }

    @Test
    void releasePublishesOnlyForKeysWithWaitersAndOneSubscriberServesAll() throws Exception {
        List<String> messages = new java.util.concurrent.CopyOnWriteArrayList<>();
        JedisPubSub listener = new JedisPubSub() {
            @Override
            public void onMessage(String channel, String message) {
                messages.add(message);
            }
        };
        Thread thread = new Thread(() -> {
            try (Jedis jedis = server.connect()) {
                jedis.subscribe(listener, provider.keys().channel());
            }
        });
        thread.start();
        RedisServerWait.until(listener::isSubscribed, "test subscriber");

        acquired(provider.tryAcquire(take(List.of("p0"), "A")));
        assertTrue(provider.release(List.of("p0"), "A"));
        for (int i = 1; i <= 5; i++) {
            acquired(provider.tryAcquire(take(List.of("p" + i), "A")));
            blocked(provider.tryAcquire(new AcquireRequest(List.of("p" + i), "B", null, "w" + i)));
        }
        RedisServerWait.until(() -> provider.subscriber().subscribed(), "provider subscriber");
        for (int i = 1; i <= 5; i++) assertTrue(provider.release(List.of("p" + i), "A"));
        for (int i = 1; i <= 5; i++)
            assertEquals("p" + i, context.released.poll(10, TimeUnit.SECONDS), "core was told about p" + i);
        RedisServerWait.until(() -> messages.size() >= 5, "5 messages");
        assertFalse(messages.contains("p0"), "no waiter, no message: " + messages);
        String clients = raw.clientList();
        long subscribers = clients.lines()
                .filter(l -> l.contains("name=locking:lp_redis-lock:sub"))
                .count();
        assertTrue(subscribers >= 1 && subscribers <= 1 + others.size(), "one per registration:\n" + clients);
        listener.unsubscribe();
        thread.join(5000);
        for (int i = 1; i <= 5; i++) provider.leaveQueue(List.of("p" + i), "w" + i);
    }

    @Test
    void killedConnectionsDoNotBreakTheNextCall() {
        acquired(provider.tryAcquire(take(List.of("c"), "A")));
        long killed = raw.clientList()
                .lines()
                .filter(l -> l.contains("name=locking:lp_redis-lock ") || l.endsWith("name=locking:lp_redis-lock"))
                .map(l -> l.split(" ")[0].substring("id=".length()))
                .peek(id -> raw.clientKill(new redis.clients.jedis.params.ClientKillParams().id(id)))
                .count();
        assertTrue(killed >= 1, "the provider's pooled connection was found and killed");
        blocked(provider.tryAcquire(take(List.of("c"), "B")));
        assertTrue(provider.release(List.of("c"), "A"));
    }

    // ---- list ------------------------------------------------------------------------------------

    private static List<String> keysOf(List<HeldLock> locks) {
        return locks.stream().map(HeldLock::key).toList();
    }

    private List<HeldLock> listed(RedisLockingProvider p, String owner) {
        return p.list(owner, 10_000).orElseThrow();
    }

    @Test
    void listShowsKeysWithGlobCharactersAndBracesExactly() {
        // Every body form of the layout (":K", "{K}", "#{slot}K"), glob characters, look-alikes of
        // the layout itself, and characters outside ASCII.
        List<String> userKeys = List.of(
                "*",
                "?",
                "[a-z]",
                "[",
                "]",
                "\\",
                "\\*",
                "a*b?c",
                "{order-42}:a",
                "x:{order-42}:b",
                "item_1",
                "a}b",
                "{}y",
                "}x",
                "{",
                "{a{b}",
                "#{1}x",
                "l{x}",
                ":k",
                "#",
                "ü*😀",
                "\n\t \"'");
        Map<String, Long> tokens = new LinkedHashMap<>();
        Map<String, String> owners = new LinkedHashMap<>();
        for (int i = 0; i < userKeys.size(); i++) {
            String key = userKeys.get(i);
            // Owner "a" is stored as "o:a", anonymous as "a": they must not be confused.
            String owner = i % 3 == 0 ? null : i % 3 == 1 ? "a" : "o:x";
            Duration lease = i % 2 == 0 ? Duration.ofSeconds(30) : null;
            tokens.put(
                    key,
                    acquired(provider.tryAcquire(new AcquireRequest(List.of(key), owner, lease, null)))
                            .fencingTokens()
                            .get(key));
            owners.put(key, owner);
        }

        Instant before = Instant.now();
        List<HeldLock> all = listed(provider, null);
        assertEquals(new ArrayList<>(new TreeSet<>(userKeys)), keysOf(all), "every key, exactly, sorted");
        for (HeldLock lock : all) {
            assertEquals(owners.get(lock.key()), lock.owner(), lock.key());
            assertEquals(tokens.get(lock.key()), lock.fencingToken(), lock.key());
            if (userKeys.indexOf(lock.key()) % 2 == 0) {
                assertNotNull(lock.expiresAt(), lock.key());
                assertTrue(
                        lock.expiresAt().isAfter(before.plusSeconds(20))
                                && lock.expiresAt().isBefore(before.plusSeconds(40)),
                        lock.key() + " " + lock.expiresAt());
            } else {
                assertNull(lock.expiresAt(), lock.key() + " is held until released");
            }
        }
        for (String owner : List.of("a", "o:x")) {
            List<String> expected = userKeys.stream()
                    .filter(k -> owner.equals(owners.get(k)))
                    .sorted()
                    .toList();
            List<HeldLock> mine = listed(provider, owner);
            assertEquals(expected, keysOf(mine), owner);
            mine.forEach(lock -> assertEquals(owner, lock.owner()));
        }
        assertEquals(List.of(), listed(provider, "nobody"));

        assertEquals(
                userKeys.size(), provider.releaseAll(null) + provider.releaseAll("a") + provider.releaseAll("o:x"));
        assertEquals(List.of(), listed(provider, null));
    }

    @Test
    void listNeverShowsAnotherNamespacesLocksEvenOneThatLooksLikeOurs() {
        String base = RedisServer.namespace(RedisProviderTest.class);
        // Glob characters in our namespace: matched literally, not as a pattern.
        String ours = base + "a*b?[c]\\d:";
        RedisLockingProvider mine = another(ours);
        List<RedisLockingProvider> lookalikes = List.of(
                another(base + "aXbYcd:"), // what "a*b?[c]\d:" would match as a glob
                another(base + "a*b?[c]\\d:l"), // ours followed by the lock kind "l"
                another(base + "a*b?[c]\\d:l#"), // ... and a body marker
                another(base + "a*b?[c]\\d"), // ours without its last character
                another(base)); // a prefix of ours
        acquired(mine.tryAcquire(take(List.of("k", "{t}:k", "a}b"), "A")));
        for (RedisLockingProvider other : lookalikes)
            acquired(other.tryAcquire(take(List.of("k", "{t}:k", "a}b", "l{k}", "other"), "A")));
        // Data under our namespace that acquire did not write is no lock either.
        raw.set(ours + "l{string}", "not a hash");
        raw.hset(ours + "l{no-owner}", "t", "12");
        raw.hset(ours + "l{bad-marker}", Map.of("o", "x", "t", "12"));
        raw.hset(ours + "l:bad-form", Map.of("o", "a", "t", "12")); // ":" form without a hash tag
        raw.hset(ours + "lx{k}", Map.of("o", "a", "t", "12"));

        assertEquals(List.of("a}b", "k", "{t}:k"), keysOf(listed(mine, null)));
        assertEquals(List.of("a}b", "k", "{t}:k"), keysOf(listed(mine, "A")));
        for (RedisLockingProvider other : lookalikes)
            assertEquals(List.of("a}b", "k", "l{k}", "other", "{t}:k"), keysOf(listed(other, null)), other.toString());

        assertEquals(3, mine.releaseAll("A"));
        for (RedisLockingProvider other : lookalikes) assertEquals(5, other.releaseAll("A"));
        raw.del(ours + "l{string}", ours + "l{no-owner}", ours + "l{bad-marker}", ours + "l:bad-form", ours + "lx{k}");
    }

    @Test
    void expiredLocksAreNotListed() throws InterruptedException {
        acquired(provider.tryAcquire(new AcquireRequest(List.of("short"), "A", Duration.ofMillis(100), null)));
        acquired(provider.tryAcquire(new AcquireRequest(List.of("short-anon"), null, Duration.ofMillis(100), null)));
        acquired(provider.tryAcquire(new AcquireRequest(List.of("long"), "A", Duration.ofSeconds(30), null)));
        assertEquals(List.of("long", "short", "short-anon"), keysOf(listed(provider, null)));
        Thread.sleep(250);
        assertEquals(List.of("long"), keysOf(listed(provider, null)));
        assertEquals(List.of("long"), keysOf(listed(provider, "A")), "the index still names short; the lock is gone");
        assertTrue(provider.release(List.of("long"), "A"));
    }

    @Test
    void listHonoursTheLimitInKeyOrderSkippingExpiredLocks() throws InterruptedException {
        List<String> all = new ArrayList<>();
        for (int i = 0; i < 25; i++) all.add(String.format("k%02d", i));
        // The first five expire: the listing must read on to still fill its limit.
        acquired(provider.tryAcquire(new AcquireRequest(all.subList(0, 5), "A", Duration.ofMillis(100), null)));
        acquired(provider.tryAcquire(take(all.subList(5, 15), "A")));
        acquired(provider.tryAcquire(take(all.subList(15, 25), "B")));
        Thread.sleep(250);
        assertEquals(all.subList(5, 8), keysOf(provider.list(null, 3).orElseThrow()));
        assertEquals(all.subList(5, 6), keysOf(provider.list("A", 1).orElseThrow()));
        assertEquals(all.subList(15, 19), keysOf(provider.list("B", 4).orElseThrow()));
        assertEquals(all.subList(5, 25), keysOf(provider.list(null, 100).orElseThrow()));
        assertEquals(10, provider.releaseAll("A"));
        assertEquals(10, provider.releaseAll("B"));
    }

    @Test
    void anOwnersListingReadsItsIndexAndChecksEachLock() {
        acquired(provider.tryAcquire(take(List.of("mine", "also-mine"), "A")));
        acquired(provider.tryAcquire(take(List.of("theirs"), "B")));
        // A stale or tampered index entry naming another owner's key is not listed as A's.
        raw.hset(provider.keys().ownerIndex("A"), "theirs", "1");
        assertEquals(List.of("also-mine", "mine"), keysOf(listed(provider, "A")));
        // The index is the only source for one owner (no SCAN of the keyspace): without it, nothing.
        raw.del(provider.keys().ownerIndex("A"));
        assertEquals(List.of(), listed(provider, "A"));
        assertEquals(List.of("also-mine", "mine", "theirs"), keysOf(listed(provider, null)), "a SCAN finds them");
        assertTrue(provider.release(List.of("also-mine", "mine"), "A"));
        assertTrue(provider.release(List.of("theirs"), "B"));
    }

    @Test
    void listedLockRecordsDecodeBackToTheirKeys() {
        RedisKeys keys = provider.keys();
        for (String key : List.of("item_1", "{order-42}:a", "}x", "{}y", "a}b{c", "{", "{a{b}", "#{1}x", "*[?]\\"))
            assertEquals(key, keys.keyOfLock(keys.lock(key)), key);
        for (String record : List.of(
                namespace + "l",
                namespace + "l{",
                namespace + "l{}",
                namespace + "l:",
                namespace + "l:plain",
                namespace + "l#{1}x",
                namespace + "l#x",
                namespace + "f{item_1}",
                namespace + "ll{item_1}",
                "other:l{item_1}")) assertNull(keys.keyOfLock(record), record);
        assertEquals("a\\*b\\?\\[c\\]\\\\d:", RedisKeys.glob("a*b?[c]\\d:"));
    }
}
