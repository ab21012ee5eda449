package dev.locking.bench;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * What {@value #WAITERS} callers parked on one held key cost: connections on the server (counted
 * there), threads the library started meanwhile, and heap per waiter. Heap is measured after full
 * GCs, and the same number of threads parked on a plain latch is subtracted, so the figure is what
 * the library adds per waiter, not the caller's own thread.
 */
final class ParkedWaiters {
    private ParkedWaiters() {}

    static final int WAITERS = 1000;

    record Result(
            String target,
            int connections,
            String connectionBound,
            long libraryThreads,
            long heapPerWaiterBytes,
            double drainSeconds) {}

    /** Heap per thread parked on a latch: the callers' own cost, subtracted from every target's. */
    static long controlHeapPerWaiter() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        long before = usedHeapAfterGc();
        List<Thread> threads = startWaiters(() -> {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Thread.sleep(1000);
        long parked = usedHeapAfterGc();
        gate.countDown();
        for (Thread t : threads) t.join();
        return (parked - before) / WAITERS;
    }

    static Result run(
            Locker locker, String target, IntSupplier serverConnections, String connectionBound, long controlPerWaiter)
            throws Exception {
        String key = "parked-" + System.nanoTime();
        Locker.Caller holder = locker.caller(0);
        if (!holder.tryLock(key)) throw new IllegalStateException(key + " is not free");
        Set<Thread> threadsBefore = Set.copyOf(Thread.getAllStackTraces().keySet());
        long before = usedHeapAfterGc();
        CountDownLatch started = new CountDownLatch(WAITERS);
        List<FutureTask<Void>> done = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < WAITERS; i++) {
            Locker.Caller caller = locker.caller(i + 1);
            FutureTask<Void> task = new FutureTask<>(
                    () -> {
                        started.countDown();
                        caller.runLocked(key, () -> {});
                    },
                    null);
            done.add(task);
            Thread t = new Thread(task, "waiter-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
        if (!started.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("waiters did not start");
        Thread.sleep(3000); // every waiter has tried once, queued, and parked
        int connections = serverConnections.getAsInt();
        long libraryThreads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> !threadsBefore.contains(t))
                .filter(t -> !t.getName().startsWith("waiter-"))
                .count();
        long parked = usedHeapAfterGc();
        long started0 = System.nanoTime();
        holder.unlock(key);
        for (Future<Void> f : done) f.get(5, TimeUnit.MINUTES);
        double drain = (System.nanoTime() - started0) / 1e9;
        return new Result(
                target,
                connections,
                connectionBound,
                libraryThreads,
                (parked - before) / WAITERS - controlPerWaiter,
                drain);
    }

    private static List<Thread> startWaiters(Runnable body) {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < WAITERS; i++) {
            Thread t = new Thread(body, "waiter-" + i);
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        return threads;
    }

    static long usedHeapAfterGc() throws InterruptedException {
        var memory = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }
}
