package dev.locking.core;

/**
 * Hears what a {@link LockingModule} does, for metrics and tracing; register it with {@link
 * LockingModule#addListener}. Every method has a no-op default, so a listener overrides only what
 * it needs.
 *
 * <p>Methods run synchronously on the thread of the lock call (or of the renewal that noticed a
 * loss), so they must be quick and must not block or call back into the module. Whatever a method
 * throws is caught and logged: a listener never fails a lock call. {@code provider} is always the
 * registration's address, {@code lp_<id>}; keys and owners are never passed, so a listener cannot
 * turn them into unbounded metric tags by mistake.
 */
public interface LockingListener {

    /** How an {@code acquire} or {@code execute} call's attempt to take its keys ended. */
    enum Outcome {
        /** The keys were granted. */
        ACQUIRED,
        /** A key was held by another owner and the call did not wait ({@code LockAcquisitionException}). */
        BUSY,
        /** The call waited its whole {@code timeout} ({@code LockTimeoutException}). */
        TIMEOUT,
        /** The store failed or could not be reached, or the wait was interrupted. */
        ERROR
    }

    /**
     * An {@code acquire} or {@code execute} call got its grant or failed to.
     *
     * @param nanos from the call to its grant or failure, waiting included
     */
    default void acquireEnded(String provider, Outcome outcome, long nanos) {}

    /**
     * A hold ended: {@code execute} released its keys, or a {@code release}/{@code releaseAll} of
     * this module freed locks an {@code acquire} of this module took (one event per release call;
     * a lock left to expire, or released by another module, ends no hold here).
     *
     * @param nanos from the grant to the release
     */
    default void holdEnded(String provider, long nanos) {}

    /** {@code execute}'s lease was lost while its job ran; the call throws {@code LockLostException}. */
    default void leaseLost(String provider) {}

    /** A caller found a key held and started to wait for it (only calls with a {@code timeout} wait). */
    default void waitingStarted(String provider) {}

    /** A caller that waited stopped waiting: granted, timed out, interrupted or failed. */
    default void waitingEnded(String provider) {}
}
