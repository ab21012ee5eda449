package dev.locking.spi;

import java.time.Duration;
import java.util.List;

/**
 * One attempt to take keys.
 *
 * @param keys sorted, distinct, non-empty
 * @param owner the owner, or null for an anonymous lock (never re-entrant)
 * @param lease how long the lock lives, by the store's clock; null for a lock held until released
 * @param waiterId null for a caller that does not wait; otherwise this caller's place in the key
 *     queues, the same on every attempt of one wait
 */
public record AcquireRequest(List<String> keys, String owner, Duration lease, String waiterId) {
    public AcquireRequest {
        keys = List.copyOf(keys);
    }
}
