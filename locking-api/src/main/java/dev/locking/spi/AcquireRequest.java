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
 * @param budget how long this attempt may take before the caller's deadline: a store that can
 *     block inside a call (a lock wait, a busy server) bounds that wait by it, so a caller never
 *     overruns its timeout by more than a round trip. Zero for a caller that does not wait (block
 *     only momentarily); null for no bound beyond the provider's own timeouts.
 */
public record AcquireRequest(List<String> keys, String owner, Duration lease, String waiterId, Duration budget) {
    public AcquireRequest {
        keys = List.copyOf(keys);
    }

    /** An attempt bounded only by the provider's own timeouts. */
    public AcquireRequest(List<String> keys, String owner, Duration lease, String waiterId) {
        this(keys, owner, lease, waiterId, null);
    }
}
