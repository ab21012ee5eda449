package dev.locking.redis;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.RedisClusterServer;

/**
 * The whole provider contract on a real three-master Redis Cluster. The contract's keys share a
 * prefix but no hash tag, so its multi-key calls span slots: they exercise the slot-by-slot path
 * with rollback, not the single-script one.
 */
class RedisClusterProviderContractTest extends LockingProviderContract {
    private static final String NAMESPACE =
            dev.locking.testkit.servers.RedisServer.namespace(RedisClusterProviderContractTest.class);

    @Override
    protected LockingModule newModule() {
        return RedisTestConfig.module(
                RedisTestConfig.cluster(RedisClusterServer.shared().seeds(), NAMESPACE));
    }
}
