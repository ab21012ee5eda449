package dev.locking.core;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The calls and {@code execute} jobs under way in one module, and its closing: once closing, new
 * calls are refused, and {@code close} waits a bounded time for the ones under way to end.
 */
final class Lifecycle {
    private final AtomicInteger calls = new AtomicInteger();
    private final Set<ExecuteContext> jobs = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    static IllegalStateException closed() {
        return new IllegalStateException("This LockingModule is closed");
    }

    boolean isClosing() {
        return closing;
    }

    /** Counts a call under way; refuses it once closing. Pair with {@link #exit()}. */
    void enter() {
        calls.incrementAndGet();
        if (closing) {
            exit();
            throw closed();
        }
    }

    /**
     * Counts one more thing under way on behalf of a call already counted (a release deferred past
     * the call), whether or not closing has begun. Pair with {@link #exit()}.
     */
    void hold() {
        calls.incrementAndGet();
    }

    void exit() {
        if (calls.decrementAndGet() == 0 && closing) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    /** A job is about to run; refused once closing (it has not started, so nothing is lost). */
    void jobStarting(ExecuteContext job) {
        jobs.add(job);
        if (closing) {
            jobs.remove(job);
            throw closed();
        }
    }

    void jobEnded(ExecuteContext job) {
        jobs.remove(job);
    }

    /** The jobs running now. */
    List<ExecuteContext> jobs() {
        return List.copyOf(jobs);
    }

    /** Refuses new calls from now on; false when the module was already closing. */
    synchronized boolean startClosing() {
        if (closing) return false;
        closing = true;
        return true;
    }

    /** Waits up to {@code nanos} for every call under way to end; false when some still run. */
    synchronized boolean awaitIdle(long nanos) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        while (calls.get() > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return false;
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }
}
