package dev.locking.spi;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/** What one {@link LockingProvider#tryAcquire} attempt did. */
public sealed interface AcquireResult permits AcquireResult.Acquired, AcquireResult.Blocked {

    /**
     * Every key was taken.
     *
     * @param fencingTokens one token per key
     * @param expiresAt when the lease ends by the store's clock; null for a lock held until released
     */
    record Acquired(Map<String, Long> fencingTokens, Instant expiresAt) implements AcquireResult {
        public Acquired {
            fencingTokens = Map.copyOf(fencingTokens);
        }
    }

    /**
     * Nothing was taken.
     *
     * @param key the first key that could not be granted
     * @param retryAfter when that key's current lease ends, if it has one: core tries again then
     *     without waiting for a notification; null when unknown or never
     * @param aheadWaiterId the waiter first in that key's queue when the key itself is free but
     *     reserved for it; core wakes it if it is local. Null when the key is held.
     */
    record Blocked(String key, Duration retryAfter, String aheadWaiterId) implements AcquireResult {}
}
