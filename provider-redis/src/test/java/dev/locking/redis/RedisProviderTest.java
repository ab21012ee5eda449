package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
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
}
