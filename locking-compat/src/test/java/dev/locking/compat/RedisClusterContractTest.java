package dev.locking.compat;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.RedisClusterServer;
import dev.locking.testkit.servers.RedisServer;
import java.util.Map;

/**
 * The whole contract on a three-master Redis Cluster with this set's Jedis: the cluster client and
 * its executor are where Jedis versions differ most.
 */
class RedisClusterContractTest extends LockingProviderContract {
    private static final String NAMESPACE = RedisServer.namespace(RedisClusterContractTest.class);

    @Override
    protected LockingModule newModule() {
        return CompatModules.module(
                "locking-redis",
                Map.of(
                        "cluster-nodes",
                        RedisClusterServer.shared().seeds(),
                        "namespace",
                        NAMESPACE,
                        "poll-interval",
                        "200ms"));
    }
}
