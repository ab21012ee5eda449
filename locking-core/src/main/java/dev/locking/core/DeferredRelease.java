package dev.locking.core;

import dev.locking.api.LockLostException;
import java.util.List;
import java.util.Optional;

/** The keys of an {@code execute} call whose release a {@link ReleaseDeferral} took over. */
public interface DeferredRelease {

    /** The registration that holds them, {@code lp_<id>}. */
    String provider();

    /** The keys held, sorted. */
    List<String> keys();

    /** True once the lease is known to be lost (a renewal found it gone, or it ran out). */
    boolean isLost();

    /**
     * Asks the store now whether the keys are still held, renewing the lease: one round trip. A
     * transaction calls it just before it commits, so that a holder whose lock was taken over
     * rolls back instead of committing.
     *
     * @return false when the lease is lost
     */
    boolean confirm();

    /**
     * Stops renewing the lease and releases the keys; the first call does it, later calls do
     * nothing and return empty.
     *
     * @return the loss, when the lease was lost before the release
     */
    Optional<LockLostException> release();
}
