package dev.locking.redis;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.RedisServer;

/** The whole provider contract on a real standalone Redis. */
class RedisProviderContractTest extends LockingProviderContract {
    private static final String NAMESPACE = RedisServer.namespace(RedisProviderContractTest.class);

    @Override
    protected LockingModule newModule() {
        return RedisTestConfig.module(
                RedisTestConfig.standalone(RedisServer.shared().url(), NAMESPACE));
    }
}
