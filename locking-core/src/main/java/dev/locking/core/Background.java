package dev.locking.core;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * The module's background work: one scheduler thread that only keeps time and never calls a store,
 * and worker threads that make the store calls (lease renewals, waiter refreshes, undos of failed
 * calls). A worker is started for a call whenever the ready ones are busy, so a store call that
 * blocks on one key never delays the renewal of another. A repeated task never has two calls out
 * at once (a turn whose previous call has not returned is skipped), so a store that hangs costs at
 * most one thread per task until the provider's own timeouts end the call.
 */
final class Background {
    /** How long a worker beyond the ready ones stays idle before it ends. */
    private static final long SPARE_WORKER_KEEP_ALIVE_SECONDS = 30;

    private final ScheduledThreadPoolExecutor scheduler;
    private final ThreadPoolExecutor workers;

    /** @param readyWorkers workers kept alive between calls ({@code locking.renewal-threads}) */
    Background(int readyWorkers) {
        scheduler = new ScheduledThreadPoolExecutor(1, daemonThreads("locking-scheduler-"));
        scheduler.setRemoveOnCancelPolicy(true);
        // A SynchronousQueue never holds a call back: a call finds an idle worker or gets a new one.
        workers = new ThreadPoolExecutor(
                readyWorkers,
                Integer.MAX_VALUE,
                SPARE_WORKER_KEEP_ALIVE_SECONDS,
                TimeUnit.SECONDS,
                new SynchronousQueue<>(),
                daemonThreads("locking-renewal-"));
    }

    /**
     * Every {@code periodNanos}, when {@code due} says so (it runs on the scheduler thread, so it
     * must not block), runs {@code storeCall} on a worker, unless the previous one is still out.
     */
    ScheduledFuture<?> repeat(long periodNanos, BooleanSupplier due, Runnable storeCall) {
        AtomicBoolean out = new AtomicBoolean();
        Runnable call = () -> {
            try {
                storeCall.run();
            } finally {
                out.set(false);
            }
        };
        long period = Math.max(1, periodNanos);
        return scheduler.scheduleAtFixedRate(
                () -> {
                    if (!due.getAsBoolean() || !out.compareAndSet(false, true)) return;
                    if (!run(call)) out.set(false);
                },
                period,
                period,
                TimeUnit.NANOSECONDS);
    }

    /** Runs {@code storeCall} on a worker after {@code delayNanos}; null when the module is shutting down. */
    ScheduledFuture<?> later(long delayNanos, Runnable storeCall) {
        try {
            return scheduler.schedule(() -> run(storeCall), Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            return null;
        }
    }

    /** Runs {@code storeCall} on a worker now; false when the module is shutting down. */
    boolean run(Runnable storeCall) {
        try {
            workers.execute(storeCall);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    /** Stops everything; a worker blocked in a store call is interrupted. */
    void shutdownNow() {
        scheduler.shutdownNow();
        workers.shutdownNow();
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
