package dev.locking.redis;

import dev.locking.spi.LockingProvider;
import dev.locking.spi.LockingProviderFactory;
import dev.locking.spi.ProviderContext;

/**
 * Identifier {@code locking-redis}: locks in Redis or Redis Cluster through Jedis. Options are
 * documented in this jar's {@code reference.conf} under {@code
 * locking.provider-defaults.locking-redis}. Creating a registration validates every option but
 * opens no connection: a server that is down at start-up makes the calls fail, not the start.
 */
public final class RedisLockingProviderFactory implements LockingProviderFactory {

    /** The identifier configuration names in {@code resolve}. */
    public static final String IDENTIFIER = "locking-redis";

    @Override
    public String identifier() {
        return IDENTIFIER;
    }

    @Override
    public String description() {
        return "Redis and Redis Cluster via Jedis, one Lua script per operation";
    }

    @Override
    public LockingProvider create(ProviderContext context) {
        RedisSettings settings = RedisSettings.from(context);
        try {
            JedisSupport.check();
        } catch (LinkageError e) {
            throw new dev.locking.api.LockingException(
                    "The Redis provider (locking-redis) needs Jedis " + JedisSupport.OLDEST
                            + " or later (redis.clients:jedis) on the classpath: " + e,
                    e);
        }
        return new RedisLockingProvider(settings, context);
    }
}
