package dev.locking.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Uncontended lock operations per second on random keys out of {@value #KEYS}. Before measuring,
 * every key is taken and freed once (8 threads), so table-backed designs (ours on PostgreSQL,
 * ShedLock, whose provider also remembers in the process which rows exist) are measured in steady
 * state, not while their tables fill. The thread count (1 or 8)
 * is set by the runner.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class LockBenchmark {
    static final int KEYS = 100_000;
    static final int MULTI = 10;

    /** A name from {@link Targets#open}. */
    @Param({"in-memory"})
    public String target;

    Locker locker;
    private final AtomicInteger callers = new AtomicInteger();

    @Setup(Level.Trial)
    public void open() throws Exception {
        locker = Targets.open(target, Servers.fromProperties());
        // Our PostgreSQL table is shared by every fork of the run and was brought to steady state
        // once by the suite; everything else keeps (or caches) its state in the process or is cheap.
        if (!Targets.SHARED_TABLE.contains(target)) touchEveryKey(locker);
    }

    @TearDown(Level.Trial)
    public void close() {
        locker.close();
    }

    static String key(int i) {
        return "k" + i;
    }

    /** Takes and frees each key once, spread over 8 threads. */
    static void touchEveryKey(Locker locker) throws Exception {
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> parts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int part = t;
                parts.add(pool.submit(() -> {
                    Locker.Caller caller = locker.caller(1000 + part);
                    for (int i = part; i < KEYS; i += threads) if (caller.tryLock(key(i))) caller.unlock(key(i));
                    return null;
                }));
            }
            for (Future<?> f : parts) f.get();
        } finally {
            pool.shutdown();
        }
    }

    /** One calling thread: its handle and its own random keys. */
    @State(Scope.Thread)
    public static class Caller {
        Locker.Caller caller;
        SplittableRandom random;
        long blocked;

        @Setup(Level.Trial)
        public void open(LockBenchmark bench) {
            int index = bench.callers.getAndIncrement();
            caller = bench.locker.caller(index);
            random = new SplittableRandom(index * 7919L + 17);
        }

        String randomKey() {
            return key(random.nextInt(KEYS));
        }

        List<String> randomKeys() {
            TreeSet<String> keys = new TreeSet<>();
            while (keys.size() < MULTI) keys.add(randomKey());
            return List.copyOf(keys);
        }
    }

    /** acquire + release of one key (a clash with another thread on the same key counts as an operation). */
    @Benchmark
    public boolean pair(Caller c) {
        String key = c.randomKey();
        if (!c.caller.tryLock(key)) return false;
        c.caller.unlock(key);
        return true;
    }

    /** {@code execute} with an empty job; for the baselines, their pair around the same job. */
    @Benchmark
    public boolean execute(Caller c) {
        return c.caller.execute(c.randomKey(), () -> {});
    }

    /** acquire + release of {@value #MULTI} keys at once, all or nothing. */
    @Benchmark
    public boolean tenKeys(Caller c) {
        List<String> keys = c.randomKeys();
        if (!c.caller.tryLockAll(keys)) return false;
        c.caller.unlockAll(keys);
        return true;
    }
}
