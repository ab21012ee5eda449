package dev.locking.inmemory;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import dev.locking.spi.LockingProvider;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.function.Consumer;

/**
 * The reference implementation of the contract. One monitor guards all state: every operation is
 * a few map look-ups, so a finer scheme would buy little and cost clarity.
 *
 * <p>Expiry uses {@link System#nanoTime()}; {@link Instant}s reported to callers are derived from
 * the wall clock at the moment of the grant. Expired locks are purged by a min-heap of deadlines
 * on every operation, so no key outlives its lease in memory and waiters are told when one frees.
 * Heap entries are never removed early: a release or renewal leaves a stale entry that the purge
 * recognises and skips, which keeps every operation O(log n).
 */
final class InMemoryLockingProvider implements LockingProvider {

    private final Consumer<String> keyReleased;
    private final Map<String, Held> locks = new HashMap<>();
    /** Per key, the waiters in ticket order; a LinkedHashSet keeps insertion (= ticket) order. */
    private final Map<String, LinkedHashSet<String>> queues = new HashMap<>();

    private final PriorityQueue<Deadline> deadlines = new PriorityQueue<>((a, b) -> Long.compare(a.at, b.at));
    /** One counter for every key: strictly increasing per key, and nothing per key to keep after release. */
    private long lastToken;

    InMemoryLockingProvider(Consumer<String> keyReleased) {
        this.keyReleased = keyReleased;
    }

    /** A lock held now. {@code expiresAt} is in nanoTime, {@link Long#MAX_VALUE} for none. */
    private static final class Held {
        final String key;
        final String owner;
        long expiresAt;
        long token;
        /**
         * The call that took the key while it was free, so {@link #undo} can free it; null once
         * the same owner re-entered it, since that call counts on it too.
         */
        String grantId;

        Held(String key, String owner, long expiresAt, String grantId) {
            this.key = key;
            this.owner = owner;
            this.expiresAt = expiresAt;
            this.grantId = grantId;
        }
    }

    private record Deadline(long at, Held held) {}

    @Override
    public AcquireResult tryAcquire(AcquireRequest request) {
        List<String> freed = new ArrayList<>();
        AcquireResult result;
        synchronized (this) {
            long now = System.nanoTime();
            purgeExpired(now, freed);
            result = attempt(request, now);
        }
        freed.forEach(keyReleased);
        return result;
    }

    private AcquireResult attempt(AcquireRequest request, long now) {
        String owner = request.owner();
        String waiter = request.waiterId();
        for (String key : request.keys()) {
            Held held = locks.get(key);
            if (held != null) {
                if (owner != null && owner.equals(held.owner)) continue; // re-entry jumps no queue: it holds the key
                enqueue(request);
                Duration retryAfter =
                        held.expiresAt == Long.MAX_VALUE ? null : Duration.ofNanos(Math.max(0, held.expiresAt - now));
                return new AcquireResult.Blocked(key, retryAfter, null);
            }
            LinkedHashSet<String> queue = queues.get(key);
            if (queue != null && !queue.isEmpty()) {
                String head = queue.iterator().next();
                if (!head.equals(waiter)) {
                    enqueue(request);
                    return new AcquireResult.Blocked(key, null, head);
                }
            }
        }
        Map<String, Long> tokens = new HashMap<>();
        long expiresAt =
                request.lease() == null ? Long.MAX_VALUE : now + request.lease().toNanos();
        Instant expiresAtWall = null;
        // The grant lasts as long as its shortest lease: a key held until released does not extend another's.
        long earliestExpiry = Long.MAX_VALUE;
        for (String key : request.keys()) {
            Held held = locks.get(key);
            if (held == null) {
                held = new Held(key, owner, expiresAt, request.grantId());
                locks.put(key, held);
                scheduleExpiry(held);
            } else {
                if (!request.grantId().equals(held.grantId)) held.grantId = null; // re-entered by another call
                if (request.lease() != null) {
                    held.expiresAt = expiresAt;
                    scheduleExpiry(held);
                }
            }
            earliestExpiry = Math.min(earliestExpiry, held.expiresAt);
            held.token = ++lastToken;
            tokens.put(key, held.token);
            if (waiter != null) dequeue(key, waiter);
        }
        if (earliestExpiry != Long.MAX_VALUE) expiresAtWall = Instant.now().plusNanos(earliestExpiry - now);
        return new AcquireResult.Acquired(tokens, expiresAtWall);
    }

    /** Joins every key's queue at once, so all queues agree on the order of any two waiters. */
    private void enqueue(AcquireRequest request) {
        if (request.waiterId() == null) return;
        for (String key : request.keys())
            queues.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(request.waiterId());
    }

    private void dequeue(String key, String waiter) {
        LinkedHashSet<String> queue = queues.get(key);
        if (queue != null && queue.remove(waiter) && queue.isEmpty()) queues.remove(key);
    }

    private void scheduleExpiry(Held held) {
        if (held.expiresAt == Long.MAX_VALUE) return;
        deadlines.add(new Deadline(held.expiresAt, held));
        // Released and renewed locks leave stale entries; rebuild once they outnumber live ones,
        // so a churn of long leases cannot grow the heap without bound (amortised O(1) per entry).
        if (deadlines.size() > 2 * locks.size() + 1024) {
            deadlines.clear();
            for (Held live : locks.values())
                if (live.expiresAt != Long.MAX_VALUE) deadlines.add(new Deadline(live.expiresAt, live));
        }
    }

    private void purgeExpired(long now, List<String> freed) {
        Deadline next;
        while ((next = deadlines.peek()) != null && next.at - now <= 0) {
            deadlines.poll();
            Held held = next.held;
            boolean current = locks.get(held.key) == held && held.expiresAt == next.at;
            if (current) {
                locks.remove(held.key);
                freed.add(held.key);
            }
        }
    }

    @Override
    public boolean release(List<String> keys, String owner) {
        List<String> freed = new ArrayList<>();
        boolean all = true;
        synchronized (this) {
            purgeExpired(System.nanoTime(), freed);
            for (String key : keys) {
                Held held = locks.get(key);
                if (held != null && Objects.equals(owner, held.owner)) {
                    locks.remove(key);
                    freed.add(key);
                } else {
                    all = false;
                }
            }
        }
        freed.forEach(keyReleased);
        return all;
    }

    @Override
    public int releaseAll(String owner) {
        List<String> freed = new ArrayList<>();
        int released = 0;
        synchronized (this) {
            purgeExpired(System.nanoTime(), freed);
            for (Iterator<Held> it = locks.values().iterator(); it.hasNext(); ) {
                Held held = it.next();
                if (Objects.equals(owner, held.owner)) {
                    it.remove();
                    freed.add(held.key);
                    released++;
                }
            }
        }
        freed.forEach(keyReleased);
        return released;
    }

    @Override
    public boolean renew(List<String> keys, String owner, Duration lease) {
        List<String> freed = new ArrayList<>();
        boolean all = true;
        synchronized (this) {
            long now = System.nanoTime();
            purgeExpired(now, freed);
            for (String key : keys) {
                Held held = locks.get(key);
                if (held == null || owner == null || !owner.equals(held.owner)) {
                    all = false;
                    continue;
                }
                held.expiresAt = now + lease.toNanos();
                scheduleExpiry(held);
            }
        }
        freed.forEach(keyReleased);
        return all;
    }

    @Override
    public void undo(List<String> keys, String owner, String grantId) {
        List<String> freed = new ArrayList<>();
        synchronized (this) {
            purgeExpired(System.nanoTime(), freed);
            for (String key : keys) {
                Held held = locks.get(key);
                if (held != null && grantId.equals(held.grantId) && Objects.equals(owner, held.owner)) {
                    locks.remove(key);
                    freed.add(key);
                }
            }
        }
        freed.forEach(keyReleased);
    }

    @Override
    public void leaveQueue(List<String> keys, String waiterId) {
        List<String> freed = new ArrayList<>();
        synchronized (this) {
            for (String key : keys) {
                LinkedHashSet<String> queue = queues.get(key);
                if (queue == null) continue;
                boolean wasHead = queue.iterator().next().equals(waiterId);
                dequeue(key, waiterId);
                // The next waiter may have been blocked only by this one.
                if (wasHead && queues.containsKey(key) && !locks.containsKey(key)) freed.add(key);
            }
        }
        freed.forEach(keyReleased);
    }

    /** The locks live in this process's memory. */
    @Override
    public boolean locksOutliveProcess() {
        return false;
    }

    @Override
    public Optional<List<HeldLock>> list(String owner, int limit) {
        List<String> freed = new ArrayList<>();
        List<HeldLock> held = new ArrayList<>();
        synchronized (this) {
            long now = System.nanoTime();
            purgeExpired(now, freed);
            Instant wallNow = Instant.now();
            for (Held h : locks.values())
                if (owner == null || owner.equals(h.owner))
                    held.add(new HeldLock(
                            h.key,
                            h.owner,
                            h.expiresAt == Long.MAX_VALUE ? null : wallNow.plusNanos(h.expiresAt - now),
                            h.token));
        }
        freed.forEach(keyReleased);
        held.sort(Comparator.comparing(HeldLock::key));
        return Optional.of(List.copyOf(held.subList(0, Math.min(limit, held.size()))));
    }

    /** Every release, expiry and queue change is signalled directly, so no backstop polling is needed. */
    @Override
    public Optional<Duration> pollInterval() {
        return Optional.empty();
    }

    @Override
    public synchronized void close() {
        locks.clear();
        queues.clear();
        deadlines.clear();
    }

    @Override
    public String toString() {
        return "InMemoryLockingProvider";
    }
}
