package dev.locking.postgres;

import dev.locking.spi.Printable;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes waiters that gave up out of their queues, all those waiting at that moment in one statement.
 *
 * <p>When many callers of one key time out together (a storm: every caller with the same timeout),
 * each would otherwise run a statement of its own, all serialised on the key's advisory lock and
 * queued for the pool's few connections: most would give up before their turn, their places would
 * stay until waiter-expiry, and the freed key would stay reserved for callers long gone. One thread
 * runs the leaves instead, each batch everything that arrived while the previous one ran, as a
 * group commit does. A caller waits for its batch a short while only ({@link #WAIT_MILLIS}); a batch
 * that fails is tried again a few times in the background, then left to waiter-expiry with one line
 * in the log.
 */
final class QueueLeaver implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(QueueLeaver.class);

    /** How long a caller that gave up waits for its place to be removed before it returns anyway. */
    static final long WAIT_MILLIS = 50;

    /** Waiters per statement at most; the rest go in the next one. */
    static final int MAX_BATCH = 500;

    /** Tries of one batch, the first included, before its places are left to waiter-expiry. */
    static final int TRIES = 4;

    private static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** Runs one batch: removes {@code waiterIds} from the queues of {@code keys}. */
    @FunctionalInterface
    interface Batch {
        void leave(List<String> keys, List<String> waiterIds);
    }

    private record Request(List<String> keys, String waiterId, CompletableFuture<Void> done, int tries) {}

    private final String label;
    private final Batch batch;
    private final long retryMillis;
    private final String expiry;
    private final LinkedBlockingQueue<Request> pending = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean closed;
    private final AtomicLong warnedAt = new AtomicLong(System.nanoTime() - WARN_EVERY_NANOS);
    private final AtomicLong given = new AtomicLong();
    /** Requests taken and not yet done (removed, or given up after their last try). */
    private final AtomicInteger outstanding = new AtomicInteger();

    /**
     * @param retryMillis how long a failed batch waits before it is tried again
     * @param expiry waiter-expiry, for the log line
     */
    QueueLeaver(String label, Batch batch, long retryMillis, String expiry) {
        this.label = label;
        this.batch = batch;
        this.retryMillis = retryMillis;
        this.expiry = expiry;
        this.thread = new Thread(this::run, "locking-postgres-leave-" + label);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Removes {@code waiterId} from the queues of {@code keys}; waits {@link #WAIT_MILLIS} at most. */
    void leave(List<String> keys, String waiterId) {
        Request request = new Request(List.copyOf(keys), waiterId, new CompletableFuture<>(), 0);
        if (closed) return; // waiter-expiry drops the place
        outstanding.incrementAndGet();
        pending.add(request);
        try {
            request.done().get(WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // Done in the background, or left to waiter-expiry; the caller has its answer already.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        while (!closed || !pending.isEmpty()) {
            Request first;
            try {
                first = pending.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                if (closed) break;
                continue;
            }
            if (first == null) continue;
            List<Request> requests = new ArrayList<>();
            requests.add(first);
            pending.drainTo(requests, MAX_BATCH - 1);
            runBatch(requests);
        }
    }

    private void runBatch(List<Request> requests) {
        TreeSet<String> keys = new TreeSet<>();
        List<String> waiters = new ArrayList<>();
        for (Request r : requests) {
            keys.addAll(r.keys());
            waiters.add(r.waiterId());
        }
        try {
            batch.leave(List.copyOf(keys), waiters);
            requests.forEach(r -> r.done().complete(null));
            outstanding.addAndGet(-requests.size());
        } catch (RuntimeException e) {
            requests.forEach(r -> r.done().complete(null)); // their callers do not wait for retries
            List<Request> again = requests.stream()
                    .filter(r -> r.tries() + 1 < TRIES)
                    .map(r -> new Request(r.keys(), r.waiterId(), r.done(), r.tries() + 1))
                    .toList();
            long dropped = requests.size() - again.size();
            outstanding.addAndGet((int) -dropped);
            if (dropped > 0) warn(dropped, e);
            else
                log.debug(
                        "{}: leaving the queues of {} waiters failed, trying again: {}",
                        label,
                        requests.size(),
                        Printable.escape(e.toString()));
            if (!again.isEmpty() && !closed) {
                sleep(retryMillis);
                pending.addAll(again);
            } else outstanding.addAndGet(-again.size());
        }
    }

    /**
     * Waits until every waiter that gave up so far has left its queues (or been given up), at most
     * {@code maxMillis}: an acquire right after a storm must not find the key reserved for callers
     * that are gone. Returns at once when nothing is pending, as nearly always.
     */
    void awaitIdle(long maxMillis) {
        if (outstanding.get() <= 0) return;
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMillis);
        while (outstanding.get() > 0 && System.nanoTime() - until < 0 && !closed)
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }

    /** One line per {@link #WARN_EVERY_NANOS} at most, counting the waiters given up meanwhile. */
    private void warn(long dropped, RuntimeException e) {
        long total = given.addAndGet(dropped);
        long last = warnedAt.get();
        long now = System.nanoTime();
        if (now - last < WARN_EVERY_NANOS || !warnedAt.compareAndSet(last, now)) return;
        given.addAndGet(-total);
        log.warn(
                "{}: {} waiters that gave up could not leave their queues ({}); waiter-expiry ({}) drops their"
                        + " places",
                label,
                total,
                Printable.escape(e.getMessage() == null ? e.toString() : e.getMessage()),
                expiry);
    }

    private void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops taking requests, runs what is pending once more, and stops the thread. */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
