package dev.locking.core;

import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingService;
import java.time.Duration;
import java.util.UUID;
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
 * The lock key is {@code run-once/<name>}. Thread-safe.
 */
public final class RunOncePerTick {
    private static final Logger log = LoggerFactory.getLogger(RunOncePerTick.class);
    /** Prefix of every key, so a job's name never collides with an application's own keys. */
    public static final String KEY_PREFIX = "run-once/";

    private final LockingService locking;
    private final LockOptions options;

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
    }

    /**
     * Runs {@code job} unless another instance (or another thread) runs the tick of {@code name} or
     * ran it less than {@code lockAtLeast} ago.
     *
     * @return true when the job ran here; false when the tick was another's
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
        LockOptions mine = options.owner(KEY_PREFIX + UUID.randomUUID()).timeout(Duration.ZERO);
        long started = System.nanoTime();
        try {
            locking.acquire(key, mine.expire(lockAtMost));
        } catch (LockAcquisitionException busy) {
            log.debug("Skipped {}: this tick runs, or ran, on another instance", key);
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
                    key,
                    ran.toMillis(),
                    lockAtMost.toMillis());
        try {
            Duration left = lockAtLeast.minus(ran);
            // The same owner acquiring again keeps the key and sets the new lease from now.
            if (left.isNegative() || left.isZero()) locking.release(key, mine);
            else locking.acquire(key, mine.expire(left));
        } catch (RuntimeException e) {
            log.warn("Could not shorten the lock of {} after its run; it frees itself after lockAtMost", key, e);
        }
    }
}
