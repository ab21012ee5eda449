package dev.locking.spi;

import java.time.Duration;
import java.util.List;
import java.util.UUID;

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
 * @param grantId the identity of the call this attempt belongs to: unique, and the same on every
 *     attempt of one call (and every retry a provider makes of one attempt). A provider stores it
 *     with each key the attempt takes while the key was free, so that {@link
 *     LockingProvider#undo} can free exactly what this call took when its caller never learnt of
 *     it, and so that a retry after a lost reply can recognise its own grant. Never null.
 */
public record AcquireRequest(
        List<String> keys, String owner, Duration lease, String waiterId, Duration budget, String grantId) {
    public AcquireRequest {
        keys = List.copyOf(keys);
        if (grantId == null || grantId.isBlank()) throw new IllegalArgumentException("grantId must not be blank");
    }

    /** An attempt of a call of its own: a fresh {@link #grantId()}. */
    public AcquireRequest(List<String> keys, String owner, Duration lease, String waiterId, Duration budget) {
        this(keys, owner, lease, waiterId, budget, UUID.randomUUID().toString());
    }

    /** An attempt bounded only by the provider's own timeouts, of a call of its own. */
    public AcquireRequest(List<String> keys, String owner, Duration lease, String waiterId) {
        this(keys, owner, lease, waiterId, null);
    }
}
