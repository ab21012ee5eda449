package dev.locking.redis;

import dev.locking.testkit.TestProviderContext;
import java.util.Map;

/** The testkit's provider context for this provider. */
final class TestContext extends TestProviderContext {
    TestContext(Map<String, Object> options) {
        super("locking-redis", "redis-lock", options, null);
    }

    RedisLockingProvider open() {
        return (RedisLockingProvider) new RedisLockingProviderFactory().create(this);
    }
}
