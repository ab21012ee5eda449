package dev.locking.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * Hand-over latency under contention: {@code threads} callers loop on one key, each holding it for
 * a random 5-15 ms. A holder notes the time and its thread just before it lets go (the last thing
 * its job does; the release follows at once); the next holder, on entering its job, records the
 * time since then. Only hand-overs to another thread are recorded: a releaser that takes the key
 * straight back (barging) is counted separately, since nobody was waiting on it then.
 *
 * <p>Not JMH: the quantity is a latency between two threads, which JMH's per-thread timers cannot
 * see. HdrHistogram with microsecond resolution.
 */
final class HandOver {
    private HandOver() {}

    record Result(String target, int threads, long handOvers, long barged, double p50, double p99, double max) {}

    static Result run(Locker locker, String target, int threads, Duration duration) throws Exception {
        String key = "handover-" + System.nanoTime();
        Histogram micros = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
        AtomicLong releasedAt = new AtomicLong();
        AtomicLong releasedBy = new AtomicLong(-1);
        AtomicLong barged = new AtomicLong();
        long warmupEnd = System.nanoTime() + Math.min(TimeUnit.SECONDS.toNanos(2), duration.toNanos() / 4);
        long end = warmupEnd + duration.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> loops = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int index = t;
                loops.add(pool.submit(() -> {
                    Locker.Caller caller = locker.caller(index);
                    SplittableRandom random = new SplittableRandom(index * 31L + 7);
                    long me = Thread.currentThread().getId();
                    while (System.nanoTime() < end) {
                        caller.runLocked(key, () -> {
                            long now = System.nanoTime();
                            long from = releasedAt.get();
                            if (from != 0 && now > warmupEnd) {
                                if (releasedBy.get() == me) barged.incrementAndGet();
                                else
                                    synchronized (micros) {
                                        micros.recordValue(Math.max(0, (now - from) / 1000));
                                    }
                            }
                            sleepMillis(5 + random.nextInt(11));
                            releasedBy.set(me);
                            releasedAt.set(System.nanoTime());
                        });
                    }
                    return null;
                }));
            }
            for (Future<?> f : loops) f.get(duration.toSeconds() + 120, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(30, TimeUnit.SECONDS);
        }
        return new Result(
                target,
                threads,
                micros.getTotalCount(),
                barged.get(),
                micros.getValueAtPercentile(50) / 1000.0,
                micros.getValueAtPercentile(99) / 1000.0,
                micros.getMaxValue() / 1000.0);
    }

    private static void sleepMillis(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
