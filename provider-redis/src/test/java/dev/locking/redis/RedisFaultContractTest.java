package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingFaultContract;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.PrivateRedis;
import dev.locking.testkit.servers.PrivateStore;
import dev.locking.testkit.servers.RedisReplicaPair;
import dev.locking.testkit.servers.RedisServer;
import dev.locking.testkit.servers.ReplicatedStore;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientType;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.ClientKillParams;

/**
 * The fault tier of the contract on Redis: a private redis-server behind the kit's proxy, a master
 * with an asynchronous replica for the failover, and a redis-server on a fake clock for the clock
 * steps; and, Redis only, a server that may evict keys under memory pressure (issue 17 item 4).
 */
class RedisFaultContractTest extends LockingFaultContract {
    private static final String NAMESPACE = RedisServer.namespace(RedisFaultContractTest.class);
    private static PrivateRedis redis;

    @BeforeAll
    static void startRedis() {
        redis = PrivateRedis.builder().start();
    }

    @AfterAll
    static void stopRedis() {
        if (redis != null) redis.close();
    }

    @Override
    protected InetSocketAddress storeAddress() {
        return new InetSocketAddress(redis.host(), redis.port());
    }

    @Override
    protected LockingModule newModule(String host, int port) {
        return RedisTestConfig.module(Map.of(
                "url", "redis://" + host + ":" + port,
                "namespace", NAMESPACE,
                "poll-interval", "200ms",
                "waiter-expiry", "3s",
                "connect-timeout", "1s",
                "socket-timeout", "1s"));
    }

    @Override
    protected ReplicatedStore newReplicatedStore() {
        return RedisReplicaPair.start();
    }

    @Override
    protected PrivateStore newStoreOnFakeClock() {
        return PrivateRedis.builder().fakeClock(Duration.ZERO).start();
    }

    // ------------------------------------------------------------------ a request held past its undo (Redis only)

    @Test
    void anAcquireHeldByAPartitionUntilAfterItsUndoNeverTakesTheKey() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        LockingModule other = directModule();
        String k = key("k");
        // The pooled connections go half-open; new ones, the undo's among them, go through.
        proxy.links().forEach(FaultyProxy.Link::blackHole);
        assertThrows(LockingException.class, () -> locking.acquire(k, owner("A").timeout(Duration.ofSeconds(1))));
        Thread.sleep(2_000); // the undo, at once on a fresh connection: nothing is held yet
        // The held request reaches Redis now, after its undo: it must not take the key.
        proxy.heal();
        Thread.sleep(500);
        try {
            other.acquire(k, owner("B").timeout(Duration.ofSeconds(10)));
        } catch (LockingException e) {
            fail("the acquire held by the partition took " + k + " after its undo, and nobody frees it: " + e);
        }
        assertTrue(other.release(k, owner("B")));
    }

    // ------------------------------------------------------------------ memory pressure (Redis only)

    private static final String MAX_MEMORY = "8mb";

    /** Writes keys without a TTL, three times the memory limit in all, until Redis refuses them. */
    private static void fillMemory(PrivateRedis server) {
        String value = "x".repeat(64 * 1024);
        try (Jedis admin = server.connect()) {
            for (int i = 0; i < 3 * 8 * 16; i++) {
                try {
                    admin.set("filler:" + i, value);
                } catch (JedisDataException e) {
                    if (!String.valueOf(e.getMessage()).startsWith("OOM")) throw e;
                }
            }
        }
    }

    /** {@code k} is never granted to a second owner: the attempt fails, as a busy key or a refusal. */
    private void assertNotGrantedToAnotherOwner(PrivateRedis server, String k) {
        try (LockingModule other = newModule(server.host(), server.port())) {
            other.acquire(k, LockOptions.defaults().owner("B"));
            fail(k + " was granted to a second owner while the first held it");
        } catch (LockingException expected) {
            // Busy, or refused: either way not granted.
        }
    }

    @Test
    void evictingPolicyIsRefusedNamingThePolicy() {
        try (PrivateRedis server =
                PrivateRedis.builder().maxMemory(MAX_MEMORY, "allkeys-lru").start()) {
            LockingException refused =
                    assertThrows(LockingException.class, () -> newModule(server.host(), server.port()));
            assertTrue(refused.getMessage().contains("maxmemory-policy allkeys-lru"), refused.getMessage());
        }
    }

    @Test
    void evictionUnderPressureNeverHandsAHeldKeyToAnotherOwner() {
        try (PrivateRedis server = PrivateRedis.builder()
                        .maxMemory(MAX_MEMORY, "noeviction")
                        .start();
                LockingModule holder = newModule(server.host(), server.port());
                Jedis admin = server.connect()) {
            String k = key("k");
            holder.acquire(k, owner("A").expire(Duration.ofMinutes(10)));
            // Reconfigured behind the application's back, and its connections dropped as a restart would:
            // the lock, with its TTL, is now a key Redis may evict.
            admin.configSet("maxmemory-policy", "volatile-lru");
            admin.clientKill(new ClientKillParams().type(ClientType.NORMAL).skipMe(ClientKillParams.SkipMe.YES));
            fillMemory(server);
            assertNotGrantedToAnotherOwner(server, k);
            assertThrows(LockingException.class, () -> holder.acquire(key("new"), owner("A")), "new locks refused");
        }
    }

    @Test
    void noevictionKeepsHeldLocksUnderMemoryPressure() {
        try (PrivateRedis server = PrivateRedis.builder()
                        .maxMemory(MAX_MEMORY, "noeviction")
                        .start();
                LockingModule holder = newModule(server.host(), server.port())) {
            String k = key("k");
            holder.acquire(k, owner("A").expire(Duration.ofMinutes(10)));
            fillMemory(server);
            assertNotGrantedToAnotherOwner(server, k);
            assertTrue(holder.release(k, owner("A")), "the holder still holds it, and a release needs no memory");
        }
    }
}
