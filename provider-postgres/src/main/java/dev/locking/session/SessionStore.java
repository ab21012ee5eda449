package dev.locking.session;

import java.util.List;

/**
 * What a store of session-level locks does on one of its server sessions (PostgreSQL advisory
 * locks, MySQL's GET_LOCK): the part of session mode that differs per store. {@link SessionLocks}
 * does the rest, the same for every such store: the set of sessions, the table of keys this process
 * holds, lease timers, keepalives and the loss of a session.
 *
 * <p>Every method but {@link #abort} runs while the caller has the session to itself; none of them
 * is called for a session after {@link #abort}.
 *
 * @param <S> a server session: a connection of the provider's own, never one of a pool
 */
public interface SessionStore<S> {

    /**
     * Opens a server session, set up so that the server ends it, and frees its locks, once it has
     * been idle for {@code idleTimeoutMillis}. Refuses (throws) a session that is not the server's
     * own (a connection pooler's), where a session lock would be unsafe.
     */
    S open(long idleTimeoutMillis) throws Exception;

    /** A cheap round trip that keeps the session from counting as idle. */
    void keepAlive(S session) throws Exception;

    /**
     * One round trip: takes the lock of every key of {@code lockKeys} on this session, or none of
     * them, unless a key is reserved for another waiter of the key queue; a blocked waiter ({@code
     * waiterId} non-null) joins the queues of all {@code keys} in the same round trip. {@code
     * blockedKey} non-null means the caller already knows the call is blocked (a key this process
     * holds): nothing is tried, the waiter only joins the queues.
     *
     * @param keys every key of the call, sorted
     * @param lockKeys the keys to lock (those this process does not hold yet), sorted
     */
    Attempt acquire(S session, List<String> keys, List<String> lockKeys, String waiterId, String blockedKey)
            throws Exception;

    /**
     * One round trip: marks each of {@code keys} as awaited by a waiter of this process, on this
     * session, until {@link #unmarkWaiting}. Any number of waiters mark a key at once. A waiter marks
     * its keys before its first attempt that joins their queues, which is what lets an acquire no
     * waiter has marked take a free key without a look at the queues, and a release no waiter has
     * marked skip telling waiters. A mark is a session lock too: it ends with its session. A store
     * with no shared session locks may do nothing here, if its acquire always looks at the queues
     * and its release always tells waiters.
     */
    void markWaiting(S session, List<String> keys) throws Exception;

    /** One round trip: gives up one {@link #markWaiting} of {@code keys} made on this session. */
    void unmarkWaiting(S session, List<String> keys) throws Exception;

    /**
     * One round trip, on the session that holds {@code key}'s lock: when the key's first live
     * waiter is one of {@code candidates} (waiters of this process), takes it out of the queues and
     * keeps the lock on the session for it. Null otherwise, and nothing changed.
     */
    HandOver handOver(S session, String key, List<String> candidates) throws Exception;

    /**
     * What {@link #handOver} did: the waiter that now has the key, and its fencing token (larger
     * than every token issued before for any key).
     */
    record HandOver(String waiterId, long token) {}

    /**
     * One round trip: frees the locks of {@code keys} held on this session, and tells other
     * processes' waiters of those keys.
     *
     * @return true iff every key was held on this session
     */
    boolean release(S session, List<String> keys) throws Exception;

    /**
     * Closes the session at once, from any thread, also while a call on it is stuck on a dead
     * network; the server frees its locks when it sees the session end.
     */
    void abort(S session);

    /** True when {@code failure} of a call on a session means the session is gone, with its locks. */
    boolean sessionGone(Exception failure);

    /**
     * What one {@link #acquire} did.
     *
     * @param granted every key of {@code lockKeys} is now locked on the session
     * @param token the fencing token of the grant, one for every key of the call: larger than every
     *     token issued before for any key
     * @param blockedKey the first key that could not be had, when not granted
     * @param aheadWaiter the waiter a free key is reserved for, when that is why
     */
    record Attempt(boolean granted, long token, String blockedKey, String aheadWaiter) {}
}
