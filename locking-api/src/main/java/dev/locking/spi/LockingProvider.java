package dev.locking.spi;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A store of locks. Core does everything that is the same for every store: argument checks, key
 * sorting and de-duplication, waiting and its deadline, {@code execute}'s unique owner, lease
 * renewal and the lost-lock signal. A provider does one atomic step per call.
 *
 * <p>Every {@code keys} list core passes is non-empty, sorted and free of duplicates. {@code owner}
 * is null for anonymous locks. Times are the store's: expiry is decided by the store's clock.
 * Every method may throw {@link dev.locking.api.LockingException} when the store cannot be reached,
 * with the registration and the next step in its message.
 *
 * <h2>Waiting in arrival order</h2>
 *
 * A waiting caller passes a {@code waiterId}. When the attempt is blocked, the provider enqueues
 * that waiter on every key of the request in one atomic step, ordered by a ticket from one counter
 * per store, so that queues never disagree on the order of two waiters (that is what keeps
 * opposite key orders from deadlocking). A key is granted to a waiting caller only when it is free
 * and the caller is the first live waiter in its queue; a caller without {@code waiterId} never
 * jumps a queue.
 *
 * <p>Queue entries of a process that died must not block a queue for long, so a provider may drop
 * an entry that was not refreshed for a few poll intervals. Core refreshes every waiter parked in
 * this process at least every {@link #pollInterval()}: with one {@link #refreshWaiters} call for
 * all of them where the provider supports it, else by an attempt of each. With bulk refresh, only
 * the first waiter of a key in each process retries every poll interval (the backstop for a lost
 * notification); the others are woken by releases and retry on their own only every {@value
 * #SAFETY_RETRY_POLLS} poll intervals, so a thousand waiters on one key cost one statement per
 * interval instead of a thousand.
 */
public interface LockingProvider extends AutoCloseable {

    /** With bulk refresh, a waiter that is not first in its process retries this many poll intervals apart. */
    int SAFETY_RETRY_POLLS = 16;

    /**
     * One atomic attempt to take all {@code request.keys()}; never waits for a held key.
     * Re-acquiring a key the same non-null owner holds succeeds, keeps the lock, and sets a new
     * expiry only if {@code request.lease()} is given. Each key granted gets a fresh fencing token,
     * greater than every earlier one of that key. When any key cannot be granted, nothing is taken.
     * Each key taken while it was free remembers {@link AcquireRequest#grantId()}, for {@link
     * #undo}.
     */
    AcquireResult tryAcquire(AcquireRequest request);

    /**
     * Frees each key held, unexpired, by {@code owner} (null: held anonymously), and no other.
     *
     * @return true iff every key was held by that owner and is now free
     */
    boolean release(List<String> keys, String owner);

    /**
     * Frees every unexpired lock of {@code owner} (null: every anonymous lock), each atomically.
     *
     * @return how many it freed
     */
    int releaseAll(String owner);

    /**
     * Extends the lease of keys held by {@code owner} to {@code lease} from now, by the store's
     * clock.
     *
     * @return true iff every key was still held by that owner; false means the lease is lost
     */
    boolean renew(List<String> keys, String owner, Duration lease);

    /**
     * As {@link #renew(List, String, Duration)}, for a caller that can use the answer only within
     * {@code budget}: the rest of the lease this renewal protects. Past it, core counts the lease
     * as lost whatever the answer, so a store that can block (a busy pool, a slow server) should
     * give up by then and throw {@link dev.locking.api.LockingException} instead of holding a
     * thread. Core calls this one; the default ignores the budget and calls the three-argument
     * method, which suits a store that never blocks.
     *
     * @param budget positive; how long the caller can still use the answer
     */
    default boolean renew(List<String> keys, String owner, Duration lease, Duration budget) {
        return renew(keys, owner, lease);
    }

    /**
     * Frees what one call took without its caller learning of it. Core calls this when {@link
     * #tryAcquire} threw and {@link #mayHaveTaken} says the store may have committed the grant
     * before its reply was lost, and
     * retries it in the background until it returns normally (for a call with a lease, only until
     * that lease would have ended).
     *
     * <p>Frees each key of {@code keys} that {@code owner} (null: anonymously) holds by a grant of
     * the call {@code grantId} ({@link AcquireRequest#grantId()}): the call took the key while it
     * was free, and no later call of the same owner has re-acquired it since. Every other key is
     * left as it is: a key held by another owner or another call; a key the call only re-entered
     * (the owner held it already, and counts on it); a key re-entered after the call took it (the
     * re-entering call succeeded, and counts on it). So a store keeps, per held key, the grant id
     * of the call that took it free, and forgets it when the same owner re-enters the key. (Two
     * lost replies in a row to the same owner on the same key leave it held, until released by
     * its owner or its lease ends: freeing a lock someone counts on would be worse.) A grant a
     * store made on a waiter's behalf ({@link ProviderContext#granted}) is freed by {@link
     * #leaveQueue} instead.
     *
     * <p>Idempotent; safe when the call took nothing, or its grant expired or was released.
     * Notifies {@link ProviderContext#keyReleased} of each key it frees.
     *
     * @throws dev.locking.api.LockingException when the store cannot be reached (core retries)
     * @throws UnsupportedOperationException when this provider cannot identify grants (the
     *     default). Core then frees the keys of an {@code execute} call by {@link #release} (its
     *     owner is unique to the call) and, for an {@code acquire}, logs a warning that the keys
     *     may stay held until released or until their lease ends.
     */
    default void undo(List<String> keys, String owner, String grantId) {
        throw new UnsupportedOperationException(getClass().getName() + " cannot undo a grant by its id");
    }

    /**
     * Whether {@code failure}, thrown by {@link #tryAcquire}, may have come after the store granted
     * the attempt (its reply lost, or a connection that broke after the request was sent). Core
     * undoes a failed attempt ({@link #undo}) only when this is true. The default, true, is always
     * safe; a provider answers false only for a failure it knows left the store untouched: no
     * connection could be had, nothing was sent, or the store answered with an error after rolling
     * the attempt back, and no earlier try of the same attempt may have acted.
     */
    default boolean mayHaveTaken(RuntimeException failure) {
        return true;
    }

    /** Removes a waiter that gave up from the queues of {@code keys}; a no-op for keys it is not in. */
    void leaveQueue(List<String> keys, String waiterId);

    /**
     * Keeps the queue entries of these parked waiters alive, all in one call, without trying to
     * grant them anything. Core asks once with an empty map at start to learn whether it is
     * supported.
     *
     * @param keysByWaiterId each parked waiter's id and the keys it waits for
     *
     * @return false when this provider has no bulk refresh (core then refreshes each waiter by an
     *     attempt every poll interval); true once the entries are refreshed
     */
    default boolean refreshWaiters(java.util.Map<String, List<String>> keysByWaiterId) {
        return false;
    }

    /**
     * The most distinct keys one call may carry to this store. Core rejects a longer list with an
     * {@link IllegalArgumentException} before it calls the provider. Core never passes more than
     * {@link dev.locking.api.LockingService#MAX_KEYS_PER_CALL} (1,000), whatever this says; a store
     * that cannot take that many in one atomic step (its lock table, a server blocked for every
     * client) declares less.
     */
    default int maxKeysPerCall() {
        return dev.locking.api.LockingService.MAX_KEYS_PER_CALL;
    }

    /**
     * The longest a waiter may park before core tries again: the backstop for a notification that
     * never arrives. Empty when notifications are reliable (in-process stores).
     */
    default Optional<Duration> pollInterval() {
        return Optional.of(Duration.ofMillis(500));
    }

    /**
     * Whether a lock outlives the process that took it. True (the default) for a store that keeps
     * locks of its own (a row, a Redis key): another process can list them, release them by owner,
     * and they stay held until released or expired when the taking process exits. False for a store
     * whose locks the process itself holds (in-memory, or server sessions of its own such as
     * locking-postgres with {@code mode = "session"}): they end when the process exits, and only
     * that process sees or releases them. Tools that take a lock and exit (the command line) warn
     * when this is false.
     */
    default boolean locksOutliveProcess() {
        return true;
    }

    /**
     * The locks held now (unexpired), for operators: at most {@code limit}, sorted by key, only
     * {@code owner}'s when it is non-null. Not a snapshot across keys in every store.
     *
     * @return empty when this provider cannot list its locks
     */
    default Optional<List<HeldLock>> list(String owner, int limit) {
        return Optional.empty();
    }

    /**
     * Applies the provider's schema migrations to its store; idempotent.
     *
     * @return one line per migration applied now; empty when the store was up to date
     */
    default List<String> migrate() {
        return List.of();
    }

    /** Closes whatever {@link LockingProviderFactory#create} opened, but nothing the application handed in. */
    @Override
    void close();
}
