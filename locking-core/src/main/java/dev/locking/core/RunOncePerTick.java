package dev.locking.core;

import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingService;
import dev.locking.spi.Printable;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a scheduled job on one application instance per tick, when every instance's scheduler
 * fires it (the ShedLock use case).
 *
 * <p>{@code execute} does not do this on its own: it releases when the job ends, so an instance
 * whose timer fires a few milliseconds later (clock skew, a slow start) finds the key free and runs
 * the same tick again. This class takes the key without waiting, with a lease of {@code
 * lockAtMost}, and keeps it after the job until {@code lockAtLeast} has passed since the start:
 *
 * <ul>
 *   <li>{@code lockAtMost} is the lease: if the instance dies mid-job, the key frees itself after
 *       it. It is not renewed, so set it well above the job's longest run; a job that runs longer
 *       may run on another instance at the same time.
 *   <li>{@code lockAtLeast} (zero or more, at most {@code lockAtMost}) is how long after the start
 *       the key stays taken even when the job ended sooner: more than the spread of the instances'
 *       timers, and less than the interval between ticks.
 * </ul>
 *
 * <pre>{@code
 * RunOncePerTick once = new RunOncePerTick(locking);
 * once.run("nightly-report", Duration.ofMinutes(10), Duration.ofSeconds(30), this::sendReport);
 * }</pre>
 *
 * The lock key is {@code run-once/<name>}. Thread-safe. {@link #close(Duration)} stops it before
 * the module closes, so that a run under way can still release its key.
 */
public final class RunOncePerTick {
    private static final Logger log = LoggerFactory.getLogger(RunOncePerTick.class);
    /** Prefix of every key, so a job's name never collides with an application's own keys. */
    public static final String KEY_PREFIX = "run-once/";

    private final LockingService locking;
    private final LockOptions options;
    private final Runs runs;

    /** Runs jobs under locks of the default registration. */
    public RunOncePerTick(LockingService locking) {
        this(locking, LockOptions.defaults());
    }

    /** Runs jobs under locks of the registration {@code options.provider(...)} names; its owner, timeout and expire are not used. */
    public RunOncePerTick(LockingService locking, LockOptions options) {
        if (locking == null) throw new IllegalArgumentException("locking must not be null");
        if (options == null) throw new IllegalArgumentException("options must not be null");
        this.locking = locking;
        this.options = options;
        this.runs = new Runs();
    }

    private RunOncePerTick(LockingService locking, LockOptions options, Runs runs) {
        this.locking = locking;
        this.options = options;
        this.runs = runs;
    }

    /**
     * The same, with the keys in the registration {@code provider} names ({@code lp_<id>} or
     * {@code <id>}); it shares this one's {@link #close}.
     */
    public RunOncePerTick in(String provider) {
        if (provider == null || provider.isBlank()) throw new IllegalArgumentException("provider must not be blank");
        return new RunOncePerTick(locking, options.provider(provider), runs);
    }

    /**
     * Runs {@code job} unless another instance (or another thread) runs the tick of {@code name} or
     * ran it less than {@code lockAtLeast} ago.
     *
     * @return true when the job ran here; false when the tick was another's, or this was closed
     * @throws dev.locking.api.LockingException when the store cannot be reached (the job did not run)
     */
    public boolean run(String name, Duration lockAtMost, Duration lockAtLeast, Runnable job) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("name must not be blank");
        if (lockAtMost == null || lockAtMost.isNegative() || lockAtMost.isZero())
            throw new IllegalArgumentException("lockAtMost must be positive, was " + lockAtMost);
        if (lockAtLeast == null || lockAtLeast.isNegative())
            throw new IllegalArgumentException("lockAtLeast must be zero or positive, was " + lockAtLeast);
        if (lockAtLeast.compareTo(lockAtMost) > 0)
            throw new IllegalArgumentException(
                    "lockAtLeast (" + lockAtLeast + ") must not be longer than lockAtMost (" + lockAtMost + ")");
        if (job == null) throw new IllegalArgumentException("job must not be null");

        String key = KEY_PREFIX + name;
        if (!runs.enter()) {
            log.debug("Skipped {}: closed, the application is stopping", Printable.escape(key));
            return false;
        }
        try {
            return runHere(key, lockAtMost, lockAtLeast, job);
        } finally {
            runs.exit();
        }
    }

    private boolean runHere(String key, Duration lockAtMost, Duration lockAtLeast, Runnable job) {
        LockOptions mine = options.owner(KEY_PREFIX + UUID.randomUUID()).timeout(Duration.ZERO);
        long started = System.nanoTime();
        try {
            locking.acquire(key, mine.expire(lockAtMost));
        } catch (LockAcquisitionException busy) {
            log.debug("Skipped {}: this tick runs, or ran, on another instance", Printable.escape(key));
            return false;
        }
        try {
            job.run();
        } finally {
            keepUntilLockAtLeast(key, mine, started, lockAtMost, lockAtLeast);
        }
        return true;
    }

    private void keepUntilLockAtLeast(
            String key, LockOptions mine, long started, Duration lockAtMost, Duration lockAtLeast) {
        Duration ran = Duration.ofNanos(System.nanoTime() - started);
        if (ran.compareTo(lockAtMost) >= 0)
            log.warn(
                    "{} ran {} ms, longer than its lockAtMost of {} ms: another instance may have run the same"
                            + " tick meanwhile. Raise lockAtMost above the job's longest run.",
                    Printable.escape(key),
                    ran.toMillis(),
                    lockAtMost.toMillis());
        try {
            Duration left = lockAtLeast.minus(ran);
            // The same owner acquiring again keeps the key and sets the new lease from now.
            if (left.isNegative() || left.isZero()) locking.release(key, mine);
            else locking.acquire(key, mine.expire(left));
        } catch (RuntimeException e) {
            log.warn(
                    "Could not shorten the lock of {} after its run; it frees itself after lockAtMost",
                    Printable.escape(key),
                    e);
        }
    }

    /**
     * Stops starting jobs ({@link #run} returns false from now on, here and in every instance made
     * by {@link #in}) and waits up to {@code drain} for the jobs under way to end and let their keys
     * go. Call it before the module closes: a job that ends after that cannot release its key, which
     * then stays taken until its lockAtMost. Idempotent.
     *
     * @return true when no job is running any more
     */
    public boolean close(Duration drain) {
        if (drain == null || drain.isNegative())
            throw new IllegalArgumentException("drain must be zero or positive, was " + drain);
        boolean idle = runs.close(drain);
        if (!idle)
            log.warn(
                    "Closing: a run-once job is still running after {} ms; its key stays taken until its lockAtMost",
                    drain.toMillis());
        return idle;
    }

    /** The jobs under way, shared by the instances {@link #in} makes; closing refuses new ones. */
    private static final class Runs {
        private int running;
        private boolean closed;

        synchronized boolean enter() {
            if (closed) return false;
            running++;
            return true;
        }

        synchronized void exit() {
            if (--running == 0) notifyAll();
        }

        synchronized boolean close(Duration drain) {
            closed = true;
            long deadline = System.nanoTime() + drain.toNanos();
            try {
                for (long left = drain.toNanos(); running > 0 && left > 0; left = deadline - System.nanoTime())
                    TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return running == 0;
        }
    }
}
