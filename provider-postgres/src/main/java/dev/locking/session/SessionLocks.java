package dev.locking.session;

import dev.locking.api.LockingException;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import dev.locking.spi.Printable;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Session mode, the part every store of session-level locks shares: locks held as the store's
 * session locks on a few sessions of the provider's own ({@link SessionSet}), many per session, and
 * this process's table of the keys it holds. The store does one round trip per acquire and per
 * release ({@link SessionStore}); a renewal, a re-entry's bookkeeping and the refusal of a key this
 * process holds cost none.
 *
 * <p>The table is what keeps two owners in this process apart: a store's session lock is re-entrant
 * on its session, so the server would grant a second owner a key the first holds on the same
 * session. A key this process holds (or is taking) is therefore refused here, before the store is
 * asked; the server only decides between processes.
 *
 * <p>A lease ends by a timer of this process, which releases the key. A session that is lost (its
 * connection failed, or went unanswered past the store's liveness bound) takes its locks with it:
 * they leave the table at once, so their renewals and releases answer false, and the key is
 * announced free to local waiters. New locks go to a new session.
 *
 * <p>A failed acquire leaves nothing held: when the store answered with an error the keys are
 * unlocked on the same session, and when the outcome is unknown (no answer, a broken connection)
 * the session is aborted, which frees everything on it (and loses its other locks, which are
 * reported lost). {@link #mayHaveTaken} is therefore always false, and undo finds nothing to do.
 */
public final class SessionLocks<S> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SessionLocks.class);

    private final String label;
    private final SessionStore<S> store;
    private final SessionSet<S> sessions;
    private final Consumer<String> keyReleased;
    /** Hands a grant to a waiter of this process (core's {@code ProviderContext.granted}). */
    private final BiPredicate<String, AcquireResult.Acquired> granted;
    /** Told of a waiter's call that answered after its caller had stopped waiting for the answer. */
    private final BiConsumer<String, List<String>> lateWaiter;

    private final ScheduledThreadPoolExecutor timers;
    /**
     * Runs the round trips of callers with a deadline, so that a caller can give up at its deadline
     * while its call, stuck on a dead network, is left to finish (or to the session's loss).
     */
    private final ExecutorService bounded;
    /** Guards {@link #held}; never held during a round trip. */
    private final Object mutex = new Object();

    private final Map<String, Hold<S>> held = new HashMap<>();

    /** The marks of this process's waiters, by waiter id; guarded by {@link #mutex}. */
    private final Map<String, WaiterMarks> marks = new HashMap<>();

    /**
     * The waiters of {@link #marks} that wait for one key, by key and waiter id: those a release of
     * the key may hand it to. Guarded by {@link #mutex}.
     */
    private final Map<String, Map<String, WaiterMarks>> singleKeyWaiters = new HashMap<>();

    /**
     * A waiter's marks of its keys ({@link SessionStore#markWaiting}), taken before its first
     * attempt that joins the queues and given up when it stops waiting. Normally one; a session lost
     * meanwhile took its mark along, and the next attempt marks again.
     */
    private static final class WaiterMarks {
        final List<String> keys;
        /** The sessions holding a mark, as slot and generation; guarded by this. */
        final List<Map.Entry<SessionSet.Slot<?>, Long>> taken = new ArrayList<>();
        /** The waiter's first attempt tries the keys as a caller that does not wait, before marking. */
        boolean looked;

        /** What the waiter asked for in its latest attempt: what a hand-over grants it. */
        String owner;

        Duration lease;
        String grantId;

        /** Attempts of the waiter running now; a release hands a key only to a waiter with none. */
        int inFlight;

        /** A release is handing this waiter a key right now: its attempts wait. */
        boolean handing;

        boolean ended;

        WaiterMarks(List<String> keys) {
            this.keys = keys;
        }
    }

    /** A key this process holds, or is taking or freeing ({@code busy}: others see it held). */
    private static final class Hold<S> {
        final String key;
        final String owner;
        final SessionSet.Slot<S> slot;
        final long generation;
        long token;
        /** When the lease ends ({@link System#nanoTime()}), and the same as an instant; null: none. */
        Long endsNanos;

        Instant endsAt;
        /** The call that took the key free; null once another call of the owner re-entered it. */
        String grantId;

        boolean busy;
        /** Another local caller was refused on this reservation: it is told when the reservation goes. */
        boolean refused;

        ScheduledFuture<?> timer;

        Hold(String key, String owner, SessionSet.Slot<S> slot, long generation) {
            this.key = key;
            this.owner = owner;
            this.slot = slot;
            this.generation = generation;
        }
    }

    /**
     * @param sessions how many server sessions to multiplex the locks on
     * @param sessionTimeoutMillis the liveness bound: the store ends a session idle this long
     * @param keyReleased told of every key this process freed or lost (core wakes its local waiters)
     * @param lateWaiter told (waiter id, keys) of a waiting caller's call that answered after the
     *     caller had stopped waiting for it: the store may have queued the waiter after it left
     */
    public SessionLocks(
            String label,
            SessionStore<S> store,
            int sessions,
            long sessionTimeoutMillis,
            Consumer<String> keyReleased,
            BiPredicate<String, AcquireResult.Acquired> granted,
            BiConsumer<String, List<String>> lateWaiter) {
        this.label = label;
        this.store = store;
        this.keyReleased = keyReleased;
        this.granted = granted;
        this.lateWaiter = lateWaiter;
        this.sessions = new SessionSet<>(label, store, sessions, sessionTimeoutMillis);
        this.sessions.onLoss(this::lost);
        this.timers = new ScheduledThreadPoolExecutor(2, r -> {
            Thread t = new Thread(r, "locking-sessions-leases-" + label);
            t.setDaemon(true);
            return t;
        });
        timers.setRemoveOnCancelPolicy(true);
        this.bounded = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "locking-sessions-calls-" + label);
            t.setDaemon(true);
            return t;
        });
    }

    /** Opens the first session now, so that a store that refuses session locks is found at start. */
    public void open() throws Exception {
        sessions.call(sessions.slot(0), (s, g) -> null);
    }

    public AcquireResult tryAcquire(AcquireRequest request) {
        if (request.waiterId() == null) return attempt(request, null);
        WaiterMarks mark;
        synchronized (mutex) {
            mark = marks.computeIfAbsent(request.waiterId(), id -> {
                WaiterMarks w = new WaiterMarks(request.keys());
                if (w.keys.size() == 1)
                    singleKeyWaiters
                            .computeIfAbsent(w.keys.get(0), k -> new HashMap<>())
                            .put(id, w);
                return w;
            });
        }
        // No attempt of a waiter runs while a release hands it a key: its attempt could queue it
        // again after the hand-over took it out of the queue.
        synchronized (mark) {
            while (mark.handing) {
                try {
                    mark.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new LockingException(label + ": interrupted while waiting for lock", e);
                }
            }
            mark.inFlight++;
            mark.owner = request.owner();
            mark.lease = request.lease();
            mark.grantId = request.grantId();
        }
        try {
            return attempt(request, mark);
        } finally {
            synchronized (mark) {
                mark.inFlight--;
            }
        }
    }

    private AcquireResult attempt(AcquireRequest request, WaiterMarks mark) {
        List<String> keys = request.keys();
        String owner = request.owner();
        expireDue(keys);
        List<String> lockKeys = new ArrayList<>();
        List<String> reentered = new ArrayList<>();
        String blocked = null;
        Duration retryAfter = null;
        SessionSet.Slot<S> slot = sessions.pick();
        synchronized (mutex) {
            for (String key : keys) {
                Hold<S> h = held.get(key);
                if (h == null) lockKeys.add(key);
                else if (!h.busy && owner != null && owner.equals(h.owner) && sessions.valid(h.slot, h.generation))
                    reentered.add(key);
                else {
                    blocked = key;
                    if (h.busy) h.refused = true;
                    if (h.endsNanos != null && !h.busy)
                        retryAfter = Duration.ofNanos(Math.max(1_000_000, h.endsNanos - System.nanoTime()));
                    break;
                }
            }
            if (blocked == null)
                for (String key : lockKeys) {
                    Hold<S> h = new Hold<>(key, owner, slot, -1);
                    h.busy = true;
                    held.put(key, h);
                }
        }
        if (blocked != null) {
            // A waiter joins the store's queues all the same, so that waiters of every process are
            // served in arrival order.
            if (request.waiterId() != null) {
                String key = blocked;
                AtomicBoolean gone = new AtomicBoolean();
                // Skipped when its caller has gone by the time the session is free (a storm).
                WaiterMarks marked = mark;
                SessionSet.Call<S, SessionStore.Attempt> join = (s, g) -> {
                    if (gone.get()) return SKIPPED;
                    markOn(marked, slot, s, g);
                    return store.acquire(s, keys, List.of(), request.waiterId(), key);
                };
                if (request.budget() == null) run("queue for " + describe(keys), slot, join);
                else {
                    // Bounded like an attempt: a stuck session makes this waiter late for nothing.
                    CompletableFuture<SessionStore.Attempt> call = CompletableFuture.supplyAsync(
                            () -> run("queue for " + describe(keys), slot, join), bounded);
                    try {
                        call.get(limitMillis(request.budget()), TimeUnit.MILLISECONDS);
                    } catch (TimeoutException e) {
                        gone.set(true);
                        call.whenComplete((late, failure) -> {
                            if (late != SKIPPED) lateWaiter.accept(request.waiterId(), keys);
                        });
                    } catch (ExecutionException e) {
                        log.debug("{}: joining the queue of {} failed: {}", label, describe(keys), e.toString());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            return new AcquireResult.Blocked(blocked, retryAfter, null);
        }
        long[] generation = new long[1];
        AtomicBoolean gone = new AtomicBoolean();
        WaiterMarks marked = mark;
        SessionSet.Call<S, SessionStore.Attempt> body = (s, g) -> {
            generation[0] = g;
            // Skipped when its caller has gone by the time the session is free (a storm).
            if (gone.get()) return SKIPPED;
            try {
                if (marked != null) {
                    // A waiter first tries as a caller that does not wait: an uncontended wait costs
                    // what a try costs. Blocked, it marks its keys, and then joins their queues.
                    if (firstLook(marked)) {
                        SessionStore.Attempt free = store.acquire(s, keys, lockKeys, null, null);
                        if (free.granted()) return free;
                    }
                    markOn(marked, slot, s, g);
                }
                return store.acquire(s, keys, lockKeys, request.waiterId(), null);
            } catch (Exception e) {
                if (!store.sessionGone(e) && !lockKeys.isEmpty()) unlockAfterError(s, g, slot, lockKeys);
                throw e;
            }
        };
        String what = "acquire " + describe(keys);
        SessionStore.Attempt attempt;
        // A waiting caller's attempts are bounded, its last look at its deadline (budget zero) too.
        if (!bounded(request.budget()) && !(request.budget() != null && request.waiterId() != null)) {
            try {
                attempt = runAgainOnLoss(what, slot, body);
            } catch (RuntimeException e) {
                forget(lockKeys, slot);
                throw e;
            }
        } else {
            CompletableFuture<SessionStore.Attempt> call =
                    CompletableFuture.supplyAsync(() -> runAgainOnLoss(what, slot, body), bounded);
            long limit = limitMillis(request.budget());
            try {
                attempt = call.get(limit, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                // The caller goes; whatever the call took when it answers is freed then. For a
                // caller that waits, running out of time is the key's being busy (its session was
                // busy, or the network stuck): it times out as for a held key.
                gone.set(true);
                call.whenComplete((late, failure) -> {
                    if (late != null && late.granted()) freeLate(slot, generation[0], lockKeys);
                    forget(lockKeys, slot);
                    if (request.waiterId() != null && late != SKIPPED) lateWaiter.accept(request.waiterId(), keys);
                });
                log.debug("{}: {} got no answer within {} ms, the time its caller had left", label, what, limit);
                return new AcquireResult.Blocked(keys.get(0), null, null);
            } catch (ExecutionException e) {
                forget(lockKeys, slot);
                if (e.getCause() instanceof RuntimeException r) throw r;
                throw new LockingException(label + ": " + what + " failed: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                gone.set(true);
                call.whenComplete((late, failure) -> {
                    if (late != null && late.granted()) freeLate(slot, generation[0], lockKeys);
                    forget(lockKeys, slot);
                    if (request.waiterId() != null) lateWaiter.accept(request.waiterId(), keys);
                });
                throw new LockingException(label + ": " + what + " was interrupted", e);
            }
        }
        if (!attempt.granted()) {
            forget(lockKeys, slot);
            return new AcquireResult.Blocked(attempt.blockedKey(), null, attempt.aheadWaiter());
        }
        Map<String, Long> tokens = new LinkedHashMap<>();
        Instant earliest = null;
        List<Hold<S>> taken = new ArrayList<>();
        boolean lostMeanwhile = false;
        synchronized (mutex) {
            // The session may have been lost between the answer and now, before its new holds were
            // in the table; and a key this call re-entered may have been lost or freed meanwhile.
            if (!sessions.valid(slot, generation[0])) lostMeanwhile = true;
            for (String key : reentered) {
                Hold<S> h = held.get(key);
                if (h == null || h.busy || !Objects.equals(h.owner, owner)) lostMeanwhile = true;
            }
            if (lostMeanwhile) {
                for (String key : lockKeys) {
                    Hold<S> h = new Hold<>(key, owner, slot, generation[0]);
                    h.busy = true;
                    held.put(key, h);
                    taken.add(h);
                }
            } else
                for (String key : keys) {
                    Hold<S> h = held.get(key);
                    if (h.generation == -1) {
                        h = new Hold<>(key, owner, slot, generation[0]);
                        h.token = attempt.token();
                        h.grantId = request.grantId();
                        held.put(key, h);
                        setLease(h, request.lease());
                    } else {
                        // Tokens of a key grow with each acquisition, a re-entry's too.
                        h.token = Math.max(attempt.token(), h.token + 1);
                        if (!Objects.equals(h.grantId, request.grantId())) h.grantId = null;
                        if (request.lease() != null) setLease(h, request.lease());
                    }
                    tokens.put(key, h.token);
                    if (h.endsAt != null && (earliest == null || h.endsAt.isBefore(earliest))) earliest = h.endsAt;
                }
        }
        if (lostMeanwhile) {
            // All or nothing: what this call took is freed again.
            try {
                freeOnSessions(taken);
            } catch (RuntimeException e) {
                log.debug("{}: freeing what a failed call took failed: {}", label, e.toString());
            }
            throw new LockingException(label + ": acquire " + describe(keys) + " failed: a server session"
                    + " holding the keys was lost while the call ran; the call can be retried.");
        }
        if (request.waiterId() != null) waitEnded(request.waiterId());
        return new AcquireResult.Acquired(tokens, earliest);
    }

    /** Whether this is the waiter's first look at the store. */
    private static boolean firstLook(WaiterMarks mark) {
        synchronized (mark) {
            if (mark.looked) return false;
            mark.looked = true;
            return true;
        }
    }

    /**
     * Marks the waiter's keys on this session, unless a live session holds its mark already; runs
     * inside a call on {@code slot}. A waiter that stopped waiting meanwhile takes its mark back.
     */
    private void markOn(WaiterMarks mark, SessionSet.Slot<S> slot, S session, long generation) throws Exception {
        synchronized (mark) {
            if (mark.ended) return;
            mark.looked = true;
            for (Map.Entry<SessionSet.Slot<?>, Long> t : mark.taken) if (validMark(t)) return;
        }
        store.markWaiting(session, mark.keys);
        boolean ended;
        synchronized (mark) {
            ended = mark.ended;
            if (!ended) mark.taken.add(Map.entry(slot, generation));
        }
        if (ended) store.unmarkWaiting(session, mark.keys);
    }

    @SuppressWarnings("unchecked")
    private boolean validMark(Map.Entry<SessionSet.Slot<?>, Long> taken) {
        return sessions.valid((SessionSet.Slot<S>) taken.getKey(), taken.getValue());
    }

    /**
     * A waiter stopped waiting (it got its keys, or gave up): its marks are given up in the
     * background. A mark that fails to go stays on its session, which costs speed, never safety: an
     * acquire of the key then looks at the queue, and a release notifies.
     */
    public void waitEnded(String waiterId) {
        WaiterMarks mark;
        synchronized (mutex) {
            mark = marks.remove(waiterId);
            if (mark != null && mark.keys.size() == 1) {
                Map<String, WaiterMarks> same = singleKeyWaiters.get(mark.keys.get(0));
                if (same != null && same.remove(waiterId) != null && same.isEmpty())
                    singleKeyWaiters.remove(mark.keys.get(0));
            }
        }
        if (mark == null) return;
        List<Map.Entry<SessionSet.Slot<?>, Long>> taken;
        synchronized (mark) {
            mark.ended = true;
            taken = new ArrayList<>(mark.taken);
            mark.taken.clear();
        }
        List<Map.Entry<SessionSet.Slot<?>, Long>> live = new ArrayList<>();
        for (Map.Entry<SessionSet.Slot<?>, Long> t : taken) if (validMark(t)) live.add(t);
        if (live.isEmpty()) return;
        boolean first;
        synchronized (unmarks) {
            first = unmarks.isEmpty();
            for (Map.Entry<SessionSet.Slot<?>, Long> t : live)
                unmarks.computeIfAbsent(t, x -> new ArrayList<>()).addAll(mark.keys);
        }
        // One statement per session for every mark given up meanwhile: when a storm of waiters
        // times out at once, their marks go in a few round trips, not one each.
        if (first)
            try {
                bounded.execute(this::giveUpMarks);
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                // Closing: the sessions, and the marks with them, go now.
            }
    }

    /** Marks to give up, by the session (slot and generation) holding them; guarded by itself. */
    private final Map<Map.Entry<SessionSet.Slot<?>, Long>, List<String>> unmarks = new HashMap<>();

    private void giveUpMarks() {
        Map<Map.Entry<SessionSet.Slot<?>, Long>, List<String>> due;
        synchronized (unmarks) {
            due = new HashMap<>(unmarks);
            unmarks.clear();
        }
        for (Map.Entry<Map.Entry<SessionSet.Slot<?>, Long>, List<String>> e : due.entrySet()) {
            @SuppressWarnings("unchecked")
            SessionSet.Slot<S> slot = (SessionSet.Slot<S>) e.getKey().getKey();
            long generation = e.getKey().getValue();
            List<String> keys = e.getValue();
            try {
                sessions.call(slot, (s, g) -> {
                    if (g == generation) store.unmarkWaiting(s, keys);
                    return null;
                });
            } catch (Exception failure) {
                // A mark left on its session costs speed, never safety (see waitEnded).
                log.debug("{}: giving up {} waiter mark(s) failed: {}", label, keys.size(), failure.toString());
            }
        }
    }

    /** What a call answers that was not made because its caller had gone. */
    private static final SessionStore.Attempt SKIPPED = new SessionStore.Attempt(false, 0, null, null);

    /** A caller with a deadline gets a thread of its own for the round trip; one that does not wait does not. */
    private static boolean bounded(Duration budget) {
        return budget != null && !budget.isZero();
    }

    /** How long a caller with {@code budget} waits for the answer: the budget and a round trip's slack. */
    private static long limitMillis(Duration budget) {
        // A waiter's last look, at its deadline, must not make it late for its timeout.
        if (budget.isZero()) return LAST_LOOK_MILLIS;
        return Math.min(TimeUnit.DAYS.toMillis(1), budget.toMillis()) + SLACK_MILLIS;
    }

    /** How long a waiter's last attempt, at its deadline, may take. */
    static final long LAST_LOOK_MILLIS = 50;

    /** How much past its budget a call may take before its caller gives up on the answer. */
    static final long SLACK_MILLIS = 100;

    /** The keys a call took after its caller had given up: nobody holds them, so they are freed. */
    private void freeLate(SessionSet.Slot<S> slot, long generation, List<String> lockKeys) {
        try {
            sessions.call(slot, (s, g) -> g == generation && store.release(s, lockKeys));
        } catch (Exception e) {
            sessions.lose(slot, generation, "freeing keys a call took after its caller gave up failed: " + e);
        }
    }

    /** After an answered error, nothing of the attempt may stay locked: unlock, else give up the session. */
    private void unlockAfterError(S session, long generation, SessionSet.Slot<S> slot, List<String> lockKeys) {
        try {
            store.release(session, lockKeys);
        } catch (Exception again) {
            sessions.lose(slot, generation, "unlocking after a failed acquire failed: " + again);
        }
    }

    /** Takes the reservations of a call that took nothing out of the table. */
    private void forget(List<String> lockKeys, SessionSet.Slot<S> slot) {
        List<String> freed = new ArrayList<>();
        synchronized (mutex) {
            for (String key : lockKeys) {
                Hold<S> h = held.get(key);
                if (h != null && h.busy && h.generation == -1 && h.slot == slot) {
                    held.remove(key);
                    if (h.refused) freed.add(key);
                }
            }
        }
        // A local waiter refused on a reservation is told it has gone. Only then: the caller that
        // made the reservation may be a waiter of the key itself, which would wake itself at once.
        freed.forEach(keyReleased);
    }

    private void setLease(Hold<S> h, Duration lease) {
        if (h.timer != null) h.timer.cancel(false);
        h.timer = null;
        if (lease == null) {
            h.endsNanos = null;
            h.endsAt = null;
            return;
        }
        long nanos = lease.toNanos();
        h.endsNanos = System.nanoTime() + nanos;
        h.endsAt = Instant.now().plusNanos(nanos);
        h.timer = timers.schedule(() -> expire(h), nanos, TimeUnit.NANOSECONDS);
    }

    /** Ends the leases of these keys that are due now, before a call decides on them. */
    private void expireDue(List<String> keys) {
        List<Hold<S>> due = new ArrayList<>();
        synchronized (mutex) {
            long now = System.nanoTime();
            for (String key : keys) {
                Hold<S> h = held.get(key);
                if (h != null && !h.busy && h.endsNanos != null && now - h.endsNanos >= 0) due.add(h);
            }
        }
        due.forEach(this::expire);
    }

    /** A lease's end: the key is released on its session, unless it was renewed or freed meanwhile. */
    private void expire(Hold<S> h) {
        synchronized (mutex) {
            if (held.get(h.key) != h || h.busy || h.endsNanos == null || System.nanoTime() - h.endsNanos < 0) return;
            h.busy = true;
        }
        try {
            freeOnSessions(List.of(h));
        } catch (RuntimeException e) {
            log.warn("{}: releasing {} at the end of its lease failed", label, describe(List.of(h.key)), e);
        }
    }

    public boolean release(List<String> keys, String owner) {
        List<Hold<S>> mine = new ArrayList<>();
        boolean all = true;
        synchronized (mutex) {
            for (String key : keys) {
                Hold<S> h = held.get(key);
                if (h != null && !h.busy && Objects.equals(h.owner, owner)) {
                    if (h.endsNanos != null && System.nanoTime() - h.endsNanos >= 0) all = false;
                    h.busy = true;
                    mine.add(h);
                } else all = false;
            }
        }
        boolean freed = freeOnSessions(mine);
        return freed && all;
    }

    public int releaseAll(String owner) {
        List<Hold<S>> mine = new ArrayList<>();
        synchronized (mutex) {
            for (Hold<S> h : held.values())
                if (!h.busy && Objects.equals(h.owner, owner)) {
                    h.busy = true;
                    mine.add(h);
                }
        }
        int[] freed = new int[1];
        freeOnSessions(mine, freed);
        return freed[0];
    }

    private boolean freeOnSessions(List<Hold<S>> holds) {
        return freeOnSessions(holds, new int[1]);
    }

    /**
     * Frees {@code holds} (marked busy by the caller), one round trip per session. True iff every
     * one was still held by its session. They leave the table whatever happens: a session that
     * failed took its locks with it.
     */
    private boolean freeOnSessions(List<Hold<S>> holds, int[] freed) {
        if (holds.isEmpty()) return true;
        Map<SessionSet.Slot<S>, List<Hold<S>>> bySlot = new LinkedHashMap<>();
        for (Hold<S> h : holds) {
            if (h.timer != null) h.timer.cancel(false);
            bySlot.computeIfAbsent(h.slot, s -> new ArrayList<>()).add(h);
        }
        boolean all = true;
        RuntimeException failure = null;
        for (Map.Entry<SessionSet.Slot<S>, List<Hold<S>>> e : bySlot.entrySet()) {
            SessionSet.Slot<S> slot = e.getKey();
            List<Hold<S>> group = e.getValue();
            long generation = group.get(0).generation;
            List<String> keys = group.stream().map(h -> h.key).sorted().toList();
            boolean handed = false;
            try {
                handed = group.size() == 1 && handOver(group.get(0));
                boolean ok = handed
                        || (sessions.valid(slot, generation)
                                && run(
                                        "release " + describe(keys),
                                        slot,
                                        (s, g) -> g == generation && store.release(s, keys)));
                if (ok) freed[0] += group.size();
                all &= ok;
            } catch (RuntimeException ex) {
                all = false;
                if (failure == null) failure = ex;
            } finally {
                synchronized (mutex) {
                    for (Hold<S> h : group) held.remove(h.key, h);
                }
                if (!handed) keys.forEach(keyReleased);
            }
        }
        // A release that failed on a session that is still there may have freed nothing: say so.
        if (failure != null && holds.stream().anyMatch(h -> sessions.valid(h.slot, h.generation))) throw failure;
        return all;
    }

    /**
     * Hands the key of {@code old} (busy: being released) to this process's first waiter in the
     * key's queue, without freeing it on the server, when a waiter of this process is first: the
     * waiter runs without an attempt of its own. True when the waiter took it; false when the key is
     * to be released as usual (no local waiter is first, or the waiter no longer takes grants).
     */
    private boolean handOver(Hold<S> old) {
        List<String> candidates = new ArrayList<>();
        List<WaiterMarks> handing = new ArrayList<>();
        synchronized (mutex) {
            for (Map.Entry<String, WaiterMarks> e :
                    singleKeyWaiters.getOrDefault(old.key, Map.of()).entrySet()) {
                WaiterMarks w = e.getValue();
                synchronized (w) {
                    // Only a waiter for this key alone, queued (marked), asking for a lease, parked.
                    if (!w.ended && !w.taken.isEmpty() && w.lease != null && w.inFlight == 0 && !w.handing) {
                        w.handing = true;
                        candidates.add(e.getKey());
                        handing.add(w);
                    }
                }
            }
        }
        try {
            return !candidates.isEmpty() && handOver(old, candidates);
        } finally {
            for (WaiterMarks w : handing)
                synchronized (w) {
                    w.handing = false;
                    w.notifyAll();
                }
        }
    }

    private boolean handOver(Hold<S> old, List<String> candidates) {
        if (!sessions.valid(old.slot, old.generation)) return false;
        SessionStore.HandOver to;
        try {
            to = run(
                    "hand over " + describe(List.of(old.key)),
                    old.slot,
                    (s, g) -> g == old.generation ? store.handOver(s, old.key, candidates) : null);
        } catch (RuntimeException e) {
            log.debug("{}: handing {} over failed, releasing it: {}", label, describe(List.of(old.key)), e.toString());
            return false;
        }
        if (to == null) return false;
        WaiterMarks w;
        Hold<S> h;
        synchronized (mutex) {
            w = marks.get(to.waiterId());
            // The session was lost meanwhile (the lock with it), or the waiter has gone.
            if (held.get(old.key) != old || !sessions.valid(old.slot, old.generation) || w == null) return false;
            synchronized (w) {
                h = new Hold<>(old.key, w.owner, old.slot, old.generation);
                h.grantId = w.grantId;
                h.token = Math.max(to.token(), old.token + 1);
                held.put(old.key, h);
                setLease(h, w.lease);
            }
        }
        if (granted.test(to.waiterId(), new AcquireResult.Acquired(Map.of(h.key, h.token), h.endsAt))) {
            waitEnded(to.waiterId());
            return true;
        }
        // Not taken: the key is released as the caller meant to. The waiter, if it still waits, has
        // been woken and queues again.
        synchronized (mutex) {
            if (held.get(h.key) == h) held.remove(h.key);
            if (h.timer != null) h.timer.cancel(false);
        }
        return false;
    }

    /** Whether {@code h} is {@code owner}'s, settled, on a live session and within its lease. */
    private boolean heldLive(Hold<S> h, String owner) {
        return h != null
                && !h.busy
                && Objects.equals(h.owner, owner)
                && sessions.valid(h.slot, h.generation)
                && (h.endsNanos == null || System.nanoTime() - h.endsNanos < 0);
    }

    /**
     * Extends the leases of keys {@code owner} holds, after a round trip on each of their sessions
     * (none where a call was answered a moment ago): a session whose connection broke is found out
     * here, and its keys answer false. A caller with {@code budget} waits for that no longer.
     */
    public boolean renew(List<String> keys, String owner, Duration lease, Duration budget) {
        Map<SessionSet.Slot<S>, Long> toCheck = new LinkedHashMap<>();
        synchronized (mutex) {
            for (String key : keys) {
                Hold<S> h = held.get(key);
                if (!heldLive(h, owner)) return false;
                toCheck.put(h.slot, h.generation);
            }
        }
        for (Map.Entry<SessionSet.Slot<S>, Long> e : toCheck.entrySet()) {
            SessionSet.Slot<S> slot = e.getKey();
            long generation = e.getValue();
            if (sessions.answeredWithin(slot, RECENT_NANOS)) continue;
            String what = "renew " + describe(keys);
            SessionSet.Call<S, Boolean> ping = (s, g) -> {
                if (g != generation) return false;
                store.keepAlive(s);
                return true;
            };
            boolean alive;
            if (!bounded(budget)) alive = run(what, slot, ping);
            else {
                CompletableFuture<Boolean> call = CompletableFuture.supplyAsync(() -> run(what, slot, ping), bounded);
                try {
                    alive = call.get(limitMillis(budget), TimeUnit.MILLISECONDS);
                } catch (TimeoutException ex) {
                    throw new LockingException(label + ": " + what + " failed: the server did not answer within "
                            + limitMillis(budget) + " ms, the rest of the lease");
                } catch (ExecutionException ex) {
                    if (!sessions.valid(slot, generation)) return false;
                    if (ex.getCause() instanceof RuntimeException r) throw r;
                    throw new LockingException(label + ": " + what + " failed: " + ex.getCause(), ex.getCause());
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    throw new LockingException(label + ": " + what + " was interrupted", ex);
                }
            }
            if (!alive) return false;
        }
        synchronized (mutex) {
            for (String key : keys) if (!heldLive(held.get(key), owner)) return false;
            for (String key : keys) setLease(held.get(key), lease);
            return true;
        }
    }

    /** A session answered this recently needs no ping to show it is alive. */
    private static final long RECENT_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /** Frees the keys the call {@code grantId} took free and no later call re-entered. */
    public void undo(List<String> keys, String owner, String grantId) {
        List<Hold<S>> mine = new ArrayList<>();
        synchronized (mutex) {
            for (String key : keys) {
                Hold<S> h = held.get(key);
                if (h != null && !h.busy && Objects.equals(h.owner, owner) && grantId.equals(h.grantId)) {
                    h.busy = true;
                    mine.add(h);
                }
            }
        }
        freeOnSessions(mine);
    }

    /** The locks this process holds, sorted by key. */
    public List<HeldLock> list(String owner, int limit) {
        synchronized (mutex) {
            return held.values().stream()
                    .filter(h -> !h.busy && (owner == null || owner.equals(h.owner)))
                    .sorted(Comparator.comparing(h -> h.key))
                    .limit(limit)
                    .map(h -> new HeldLock(h.key, h.owner, h.endsAt, h.token))
                    .toList();
        }
    }

    /** A session was lost: every lock it held is gone. */
    private void lost(SessionSet.Slot<?> slot, long generation, String reason) {
        List<String> gone = new ArrayList<>();
        List<String> unmarked = new ArrayList<>();
        synchronized (mutex) {
            held.values().removeIf(h -> {
                if (h.slot != slot || h.generation != generation) return false;
                if (h.timer != null) h.timer.cancel(false);
                gone.add(h.key);
                return true;
            });
            for (WaiterMarks mark : marks.values())
                synchronized (mark) {
                    if (mark.taken.removeIf(t -> t.getKey() == slot && t.getValue() == generation))
                        unmarked.addAll(mark.keys);
                }
        }
        // Waiters whose marks went with the session try again now, and mark again.
        unmarked.stream().distinct().forEach(keyReleased);
        if (!gone.isEmpty())
            log.warn(
                    "{}: {} lock(s) lost with their server session ({}), e.g. {}; their holders learn it at their"
                            + " next renewal or release",
                    label,
                    gone.size(),
                    Printable.escape(reason),
                    describe(gone.subList(0, 1)));
        gone.forEach(keyReleased);
    }

    /** Tries of an acquire whose session turned out to be gone (a restarted server, a killed backend). */
    private static final int ATTEMPTS = 3;

    /**
     * As {@link #run}, for an acquire: a session that turned out to be gone held nothing any more,
     * so the call is simply made again on a new session.
     */
    private <T> T runAgainOnLoss(String what, SessionSet.Slot<S> slot, SessionSet.Call<S, T> call) {
        for (int attempt = 1; ; attempt++) {
            try {
                return run(what, slot, call);
            } catch (LockingException e) {
                if (attempt >= ATTEMPTS || !(e.getCause() instanceof Exception cause) || !store.sessionGone(cause))
                    throw e;
                log.debug("{}: {} found its session gone; trying a new one", label, what);
            }
        }
    }

    private <T> T run(String what, SessionSet.Slot<S> slot, SessionSet.Call<S, T> call) {
        try {
            return sessions.call(slot, call);
        } catch (LockingException | IllegalStateException e) {
            throw e;
        } catch (Exception e) {
            throw new LockingException(
                    label + ": " + what + " failed: " + e.getMessage()
                            + (store.sessionGone(e)
                                    ? " (the server session was lost, and with it every lock held on it; the call can be"
                                            + " retried)"
                                    : ""),
                    e);
        }
    }

    private static String describe(List<String> keys) {
        if (keys.size() == 1) return "key \"" + Printable.escape(keys.get(0)) + "\"";
        return keys.size() + " keys from \"" + Printable.escape(keys.get(0)) + "\"";
    }

    @Override
    public void close() {
        timers.shutdownNow();
        bounded.shutdownNow();
        sessions.close();
    }
}
