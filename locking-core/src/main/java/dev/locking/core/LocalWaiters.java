package dev.locking.core;

import dev.locking.spi.AcquireResult;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The callers of one registration parked in this process, per key in arrival order. A release
 * wakes only the first of them for that key: the store's queue decides who may take it, and a
 * woken caller that finds another local waiter ahead of it in that queue wakes that one in turn
 * (see {@code AcquireResult.Blocked.aheadWaiterId}), so a release costs one retry, not a herd.
 */
final class LocalWaiters {

    /** A parked caller. Signals are counted up to one, so none is lost between attempts. */
    static final class Waiter {
        /** In {@link #handed} once the waiter stopped waiting without a grant: later ones are refused. */
        private static final Object CLOSED = new Object();

        final String id = Ids.next();
        final List<String> keys;
        /**
         * When the waiter was registered, before its first attempt: a grant made for it came after
         * that attempt queued it, so the grant's lease began no earlier than this.
         */
        final long registeredAt = System.nanoTime();
        /** The lease the waiter asks for, in nanoseconds; 0 when it asks for none. */
        private final long leaseNanos;

        private final Semaphore permit = new Semaphore(0);
        /** The keys whose release woke this waiter since its last attempt. */
        private final Set<String> signalledKeys = ConcurrentHashMap.newKeySet();
        /** Null, a grant the store made for this waiter (an {@code Acquired}), or {@link #CLOSED}. */
        private final AtomicReference<Object> handed = new AtomicReference<>();

        Waiter(List<String> keys, Duration lease) {
            this.keys = keys;
            this.leaseNanos = lease == null ? 0 : lease.toNanos();
        }

        void signal() {
            if (permit.availablePermits() == 0) permit.release();
        }

        void signal(String key) {
            signalledKeys.add(key);
            signal();
        }

        List<String> takeSignalledKeys() {
            if (signalledKeys.isEmpty()) return List.of();
            List<String> taken = List.copyOf(signalledKeys);
            signalledKeys.removeAll(taken);
            return taken;
        }

        void await(long nanos) throws InterruptedException {
            if (permit.tryAcquire(nanos, TimeUnit.NANOSECONDS)) permit.drainPermits();
        }

        /**
         * Hands this waiter a grant; false once it stopped waiting (or already has one), and false
         * for a waiter without a lease or one that has waited half its lease or more. The waiter
         * counts the grant's lease from {@link #registeredAt}, the latest instant known to precede
         * it: a grant that arrives late (its notification held up, or made before an attempt that
         * found it expired) would be counted as mostly or wholly run out. Such a waiter tries again
         * instead, and an attempt that finds the grant still standing takes it with a fresh lease.
         */
        boolean offer(AcquireResult.Acquired grant) {
            if (leaseNanos <= 0 || System.nanoTime() - registeredAt >= leaseNanos / 2) return false;
            if (!handed.compareAndSet(null, grant)) return false;
            signal();
            return true;
        }

        /** The grant handed to this waiter, if any; it keeps waiting otherwise. */
        AcquireResult.Acquired handedGrant() {
            return handed.get() instanceof AcquireResult.Acquired grant ? grant : null;
        }

        /**
         * Stops this waiter from taking grants. Returns one handed over before that, which the
         * waiter must take: the provider was told it was taken.
         */
        AcquireResult.Acquired close() {
            if (handed.compareAndSet(null, CLOSED)) return null;
            return handedGrant();
        }
    }

    private final Map<String, ConcurrentLinkedDeque<Waiter>> byKey = new ConcurrentHashMap<>();
    private final Map<String, Waiter> byId = new ConcurrentHashMap<>();

    /** @param lease the lease the waiter asks for; null for none */
    Waiter register(List<String> keys, Duration lease) {
        Waiter waiter = new Waiter(keys, lease);
        byId.put(waiter.id, waiter);
        for (String key : keys)
            byKey.compute(key, (k, queue) -> {
                ConcurrentLinkedDeque<Waiter> q = queue == null ? new ConcurrentLinkedDeque<>() : queue;
                q.addLast(waiter);
                return q;
            });
        return waiter;
    }

    void unregister(Waiter waiter) {
        byId.remove(waiter.id);
        for (String key : waiter.keys) {
            boolean wasFirst = false;
            ConcurrentLinkedDeque<Waiter> queue = byKey.get(key);
            if (queue != null) wasFirst = queue.peekFirst() == waiter;
            byKey.computeIfPresent(key, (k, q) -> q.remove(waiter) && q.isEmpty() ? null : q);
            // The next one is now first: it polls at the short interval from now on, so wake it to
            // take up that duty instead of sleeping out the long safety interval of a later waiter.
            if (wasFirst) {
                ConcurrentLinkedDeque<Waiter> rest = byKey.get(key);
                Waiter next = rest == null ? null : rest.peekFirst();
                if (next != null) next.signal();
            }
        }
    }

    /** Wakes the first local waiter for {@code key}, if any. */
    void keyReleased(String key) {
        ConcurrentLinkedDeque<Waiter> queue = byKey.get(key);
        if (queue == null) return;
        Waiter first = queue.peekFirst();
        if (first != null) first.signal(key);
    }

    /** True when {@code waiter} is the first local waiter of at least one of its keys. */
    boolean isFirstOfAnyKey(Waiter waiter) {
        for (String key : waiter.keys) {
            ConcurrentLinkedDeque<Waiter> queue = byKey.get(key);
            if (queue != null && queue.peekFirst() == waiter) return true;
        }
        return false;
    }

    /** Wakes the local waiter after {@code from} for {@code key}, if any. */
    void passOn(String key, Waiter from) {
        ConcurrentLinkedDeque<Waiter> queue = byKey.get(key);
        if (queue == null) return;
        boolean seen = false;
        for (Waiter w : queue) {
            if (seen) {
                w.signal(key);
                return;
            }
            seen = w == from;
        }
    }

    /**
     * Hands a grant to the waiter with this id if it is parked in this process and still waiting.
     * A waiter here that refuses it (it has waited too long to trust it) is woken instead: the grant
     * may well stand, and its next attempt takes it, so the key does not sit idle until it polls.
     */
    boolean grant(String waiterId, AcquireResult.Acquired grant) {
        // Only a grant with a lease may be made on a caller's behalf (ProviderContext.granted).
        if (waiterId == null || grant == null || grant.expiresAt() == null) return false;
        Waiter waiter = byId.get(waiterId);
        if (waiter == null) return false;
        if (waiter.offer(grant)) return true;
        waiter.signal();
        return false;
    }

    /** Wakes every caller parked here, to find the module closing. */
    void wakeAll() {
        byId.values().forEach(Waiter::signal);
    }

    /** True when no caller is parked here. */
    boolean isEmpty() {
        return byId.isEmpty();
    }

    /** Wakes the waiter with this id if it is parked in this process. */
    void wake(String waiterId) {
        Waiter waiter = byId.get(waiterId);
        if (waiter != null) waiter.signal();
    }

    /** How many waiters are parked now. */
    int size() {
        return byId.size();
    }

    /** Every waiter parked now, by id, with its keys. */
    Map<String, List<String>> keysByWaiterId() {
        Map<String, List<String>> snapshot = new java.util.HashMap<>();
        byId.forEach((id, waiter) -> snapshot.put(id, waiter.keys));
        return snapshot;
    }
}
