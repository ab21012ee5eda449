package dev.locking.api;

import java.util.Collection;

/**
 * Distributed locks by key. Every method validates its arguments before it takes any lock and
 * throws {@link IllegalArgumentException} naming the bad argument.
 *
 * <p>Keys are de-duplicated and sorted; calls with several keys are all-or-nothing: a call that
 * fails holds none of its keys. Keys are at most {@value #MAX_KEY_BYTES} bytes of UTF-8 and may not
 * contain the NUL character; any other character is an ordinary part of a key. One call names at
 * most {@value #MAX_KEYS_PER_CALL} distinct keys.
 */
public interface LockingService {

    /** The longest key, and the longest owner id, in bytes of UTF-8. */
    int MAX_KEY_BYTES = 1024;

    /**
     * The most distinct keys one call may name: 1,000. A longer list is rejected with an {@link
     * IllegalArgumentException} naming {@code keys} before any lock is taken. A provider may
     * declare a lower limit of its own ({@code LockingProvider.maxKeysPerCall()}).
     */
    int MAX_KEYS_PER_CALL = 1000;

    /**
     * Waits for {@code key} (up to the configured {@code locking.execute.timeout}, 5 seconds by
     * default), runs {@code job} while holding it, and releases it afterwards, also when the job
     * throws.
     *
     * @throws LockTimeoutException if the key did not become free in time; the job did not run
     * @throws LockLostException if the lease was lost while the job ran (thrown after it returned)
     */
    <T, X extends Exception> T execute(String key, LockedJob<T, X> job) throws X;

    /**
     * As {@link #execute(String, LockedJob)}, with options: {@code timeout} (how long to wait,
     * default 5 s), {@code expire} (the lease, default 60 s, renewed every third of it while the
     * job runs) and {@code provider}. Each call runs under an owner of its own; an {@code owner}
     * option only prefixes that unique owner, so two {@code execute} calls never share a lock.
     */
    <T, X extends Exception> T execute(String key, LockedJob<T, X> job, LockOptions options) throws X;

    /** As {@link #execute(String, LockedJob, LockOptions)} for several keys, taken all or none. */
    <T, X extends Exception> T execute(Collection<String> keys, LockedJob<T, X> job, LockOptions options) throws X;

    /**
     * Takes {@code key} anonymously, without expiry, without waiting.
     *
     * @throws LockAcquisitionException if another holder has it
     */
    Lease acquire(String key);

    /**
     * Takes {@code key}. With an {@code owner}, acquiring a key that owner already holds succeeds
     * and refreshes the expiry only if {@code expire} is given. Without an owner the lock is
     * anonymous and never re-entrant. Without {@code expire} the lock is held until released. With
     * a {@code timeout} the call waits up to it, in arrival order, then throws {@link
     * LockTimeoutException}; the default timeout is zero: a held key fails at once with {@link
     * LockAcquisitionException}.
     */
    Lease acquire(String key, LockOptions options);

    /** As {@link #acquire(String, LockOptions)} for several keys, taken all or none. */
    Lease acquire(Collection<String> keys, LockOptions options);

    /** Releases the anonymous lock on {@code key}; same as {@code release(key, LockOptions.defaults())}. */
    boolean release(String key);

    /**
     * Releases {@code key} if it is held by the {@code owner} of {@code options} (or, without an
     * owner, held anonymously).
     *
     * @return true iff the key was held, unexpired, by that owner and is now free; never frees
     *     another owner's lock
     */
    boolean release(String key, LockOptions options);

    /** As {@link #release(String, LockOptions)}: true iff every key was held by that owner. */
    boolean release(Collection<String> keys, LockOptions options);

    /**
     * Releases every lock of the {@code owner} of {@code options}, or, without an owner, every
     * anonymous lock, in the provider the options name (or the default one). Atomic per key.
     *
     * @return how many locks it released
     */
    int releaseAll(LockOptions options);
}
