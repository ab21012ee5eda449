package dev.locking.session;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small fixed set of server sessions of the provider's own, each opened on first use and again
 * after it was lost, on which many locks are multiplexed. One call at a time per session: calls
 * are single short statements.
 *
 * <p>Liveness: the store ends a session that stays idle for {@code timeout} (freeing its locks),
 * so a frozen or partitioned process loses its locks within that bound. This set keeps its own
 * live sessions from idling: each one that saw no call for a quarter of the timeout gets a
 * keepalive. A session counts as valid only until three quarters of the timeout after the start of
 * its last call that was answered: past that, the server may be about to end it, so this set gives
 * it up first (it aborts the connection and reports the loss) rather than let its holders believe
 * they hold what the server may free. A call unanswered for half the timeout is aborted the same
 * way.
 */
final class SessionSet<S> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SessionSet.class);

    /** Told of every session lost, with the generation it had: its locks are gone. */
    interface LossListener {
        void lost(Slot<?> slot, long generation, String reason);
    }

    /** What runs on a session; {@code generation} identifies the session for the holds it grants. */
    interface Call<S, T> {
        T run(S session, long generation) throws Exception;
    }

    /** One session place. Its generation grows each time its session is lost. */
    static final class Slot<S> {
        final int index;
        final ReentrantLock lock = new ReentrantLock();
        private volatile S session;
        private volatile long generation;
        /** Start of the last call the server answered ({@link System#nanoTime()}). */
        private volatile long lastAnsweredStart;
        /** Start of the call running now, or 0. */
        private volatile long busySince;

        Slot(int index) {
            this.index = index;
        }

        long generation() {
            return generation;
        }
    }

    private final String label;
    private final SessionStore<S> store;
    private final long timeoutNanos;
    private final long timeoutMillis;
    private final List<Slot<S>> slots = new ArrayList<>();
    private final AtomicInteger next = new AtomicInteger();
    private final ScheduledExecutorService keeper;
    private volatile LossListener listener = (slot, generation, reason) -> {};
    private volatile boolean closed;

    SessionSet(String label, SessionStore<S> store, int size, long timeoutMillis) {
        this.label = label;
        this.store = store;
        this.timeoutMillis = timeoutMillis;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        for (int i = 0; i < size; i++) slots.add(new Slot<>(i));
        this.keeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "locking-sessions-keepalive-" + label);
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(50, timeoutMillis / 8);
        keeper.scheduleWithFixedDelay(this::keepAlive, period, period, TimeUnit.MILLISECONDS);
    }

    void onLoss(LossListener listener) {
        this.listener = listener;
    }

    int size() {
        return slots.size();
    }

    Slot<S> slot(int index) {
        return slots.get(index);
    }

    /**
     * A session to take new locks on: this thread's own session if it is free, else the next free
     * one, else its own. Each thread is given its own session in turn, once: threads up to the
     * number of sessions then never meet on one, and a thread's release finds its session free.
     */
    Slot<S> pick() {
        Slot<S> home = homes.get();
        if (home == null) {
            home = slots.get(Math.floorMod(next.getAndIncrement(), slots.size()));
            homes.set(home);
        }
        if (!home.lock.isLocked()) return home;
        for (int i = 1; i < slots.size(); i++) {
            Slot<S> s = slots.get((home.index + i) % slots.size());
            if (!s.lock.isLocked()) return s;
        }
        return home;
    }

    /** Each thread's own session. */
    private final ThreadLocal<Slot<S>> homes = new ThreadLocal<>();

    /** Whether locks granted on {@code slot} in {@code generation} are still held by the server. */
    boolean valid(Slot<S> slot, long generation) {
        return slot.generation == generation
                && slot.session != null
                && System.nanoTime() - slot.lastAnsweredStart < validNanos();
    }

    /** Whether the last answered call on {@code slot} started less than {@code nanos} ago. */
    boolean answeredWithin(Slot<S> slot, long nanos) {
        return slot.session != null && System.nanoTime() - slot.lastAnsweredStart < nanos;
    }

    private long validNanos() {
        return timeoutNanos / 4 * 3;
    }

    /** Runs {@code call} on {@code slot}'s session, opening one if it has none. */
    <T> T call(Slot<S> slot, Call<S, T> call) throws Exception {
        slot.lock.lock();
        try {
            if (closed) throw new IllegalStateException(label + " is closed");
            if (slot.session == null) {
                long start = System.nanoTime();
                slot.session = store.open(timeoutMillis);
                slot.lastAnsweredStart = start;
            }
            long generation = slot.generation;
            S session = slot.session;
            long start = System.nanoTime();
            slot.busySince = start;
            try {
                T result = call.run(session, generation);
                if (slot.generation == generation) slot.lastAnsweredStart = start;
                return result;
            } catch (Exception e) {
                if (store.sessionGone(e)) lose(slot, generation, "its connection failed: " + e);
                throw e;
            } finally {
                slot.busySince = 0;
            }
        } finally {
            slot.lock.unlock();
        }
    }

    /** Gives up the session of {@code slot} if it is still the one of {@code generation}. */
    void lose(Slot<S> slot, long generation, String reason) {
        S session;
        synchronized (slot) {
            if (slot.generation != generation || slot.session == null) return;
            session = slot.session;
            slot.session = null;
            slot.generation = generation + 1;
        }
        store.abort(session);
        if (!closed) log.warn("{}: server session {} lost: {}", label, slot.index, reason);
        listener.lost(slot, generation, reason);
    }

    private void keepAlive() {
        try {
            long now = System.nanoTime();
            for (Slot<S> slot : slots) {
                if (closed) return;
                if (slot.session == null) continue;
                long generation = slot.generation;
                long busy = slot.busySince;
                if (busy != 0 && now - busy > timeoutNanos / 2) {
                    lose(slot, generation, "a call got no answer within " + timeoutMillis / 2 + " ms");
                    continue;
                }
                if (now - slot.lastAnsweredStart >= validNanos()) {
                    lose(slot, generation, "no call was answered within " + timeoutMillis * 3 / 4 + " ms");
                    continue;
                }
                if (now - slot.lastAnsweredStart < timeoutNanos / 4 || !slot.lock.tryLock()) continue;
                try {
                    if (slot.session == null || slot.generation != generation) continue;
                    call(slot, (s, g) -> {
                        store.keepAlive(s);
                        return null;
                    });
                } catch (Exception e) {
                    log.debug("{}: keepalive of session {} failed: {}", label, slot.index, e.toString());
                } finally {
                    slot.lock.unlock();
                }
            }
        } catch (RuntimeException e) {
            log.warn("{}: keepalive failed", label, e);
        }
    }

    @Override
    public void close() {
        closed = true;
        keeper.shutdownNow();
        for (Slot<S> slot : slots) {
            S session;
            synchronized (slot) {
                session = slot.session;
                slot.session = null;
                slot.generation++;
            }
            if (session != null) store.abort(session);
        }
    }
}
