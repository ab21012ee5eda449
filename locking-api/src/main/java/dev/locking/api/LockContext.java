package dev.locking.api;

import java.util.List;

/** What a {@link LockedJob} sees of the locks it runs under. */
public interface LockContext {

    /** The keys held, sorted and de-duplicated. */
    List<String> keys();

    /** The owner id this {@code execute} call holds its keys under; unique per call. */
    String owner();

    /**
     * The fencing token of {@code key}: greater than the token of every earlier acquisition of
     * that key in the same provider. Hand it to a store that rejects writes with a smaller one.
     *
     * @throws IllegalArgumentException if {@code key} is not one of {@link #keys()}
     */
    long fencingToken(String key);

    /**
     * True once the lease is known to be lost: a renewal found the lock gone or taken over, or
     * renewals kept failing until the lease ran out. A job that sees it should stop writing.
     */
    boolean isLost();
}
