package dev.locking.compat;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingProviderContract;
import dev.locking.testkit.servers.RedisServer;
import java.util.Map;

/** The whole contract on a standalone Redis with this set's Jedis. */
class RedisContractTest extends LockingProviderContract {
    private static final String NAMESPACE = RedisServer.namespace(RedisContractTest.class);

    @Override
    protected LockingModule newModule() {
        return CompatModules.module(
                "locking-redis",
                Map.of("url", RedisServer.shared().url(), "namespace", NAMESPACE, "poll-interval", "200ms"));
    }
}
