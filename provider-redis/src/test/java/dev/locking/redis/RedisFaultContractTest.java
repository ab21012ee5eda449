package dev.locking.redis;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingFaultContract;
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

/**
 * The fault tier of the contract on Redis: a private redis-server behind the kit's proxy, a master
 * with an asynchronous replica for the failover, and a redis-server on a fake clock for the clock
 * steps.
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
}
