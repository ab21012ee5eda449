package dev.locking.postgres;

import dev.locking.spi.Printable;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes expired lock rows and dead waiters' queue entries every cleanup-interval, whether or not
 * their keys are ever taken again. The lock functions tidy a key's own rows when they touch it; a
 * key taken with a lease and never released nor taken again would otherwise stay a row for ever.
 * Rows another call holds are skipped ({@code SKIP LOCKED}) and left to it; an expired row an
 * acquire is taking over at that moment is either taken over or gone, both free.
 */
final class ExpiredRowCleaner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ExpiredRowCleaner.class);

    /** Rows of each table per statement; a full batch is followed by another at once. */
    static final int BATCH = 10_000;

    /** Runs one batch; returns the most rows it removed from one table. */
    @FunctionalInterface
    interface Batch {
        int clean(int batch);
    }

    private final String label;
    private final Batch batch;
    private final long intervalNanos;
    private final Thread thread;
    private volatile boolean closed;

    ExpiredRowCleaner(String label, Duration interval, Batch batch) {
        this.label = label;
        this.batch = batch;
        this.intervalNanos = interval.toNanos();
        this.thread = new Thread(this::run, "locking-postgres-cleanup-" + label);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        // Instances started together spread their runs over the interval.
        long next = System.nanoTime() + ThreadLocalRandom.current().nextLong(intervalNanos / 2, intervalNanos + 1);
        while (!closed) {
            LockSupport.parkNanos(this, next - System.nanoTime());
            if (closed || Thread.interrupted()) break;
            if (System.nanoTime() - next < 0) continue; // woken early
            next = System.nanoTime() + intervalNanos;
            try {
                int removed;
                do {
                    removed = batch.clean(BATCH);
                    if (removed > 0) log.debug("{}: removed {} expired locks and dead queue entries", label, removed);
                } while (removed >= BATCH && !closed);
            } catch (RuntimeException e) {
                log.debug(
                        "{}: removing expired locks failed, trying again in {}: {}",
                        label,
                        Duration.ofNanos(intervalNanos),
                        Printable.escape(e.toString()));
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
