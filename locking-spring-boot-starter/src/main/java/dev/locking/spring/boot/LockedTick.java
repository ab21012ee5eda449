package dev.locking.spring.boot;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs a scheduled method on one application instance per tick, when every instance's scheduler
 * fires it: the method runs under {@link dev.locking.core.RunOncePerTick} (key {@code
 * run-once/<name>}), and an instance that finds the key taken skips the call.
 *
 * <pre>{@code
 * @Scheduled(cron = "0 0 2 * * *")
 * @LockedTick(name = "nightly-report", lockAtMostFor = "30m", lockAtLeastFor = "1m")
 * void nightlyReport() { ... }
 * }</pre>
 *
 * <p>The method must return {@code void}, take no arguments, and be neither private, static nor
 * final: the starter wraps the bean in a proxy (Spring AOP, which every Spring application has;
 * AspectJ is not needed), so only calls that come through the bean reference, as the scheduler's
 * do, are locked; a call from inside the same object is not. Attributes take durations as {@code
 * 30s}, {@code 10m}, {@code PT30S} or a number of milliseconds, and {@code ${...}} placeholders;
 * they are checked when the bean is created, so a bad value stops the start naming the method.
 * Placed on a method that is not {@code @Scheduled}, it locks every call the same way.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@Documented
public @interface LockedTick {

    /** The job's name, the same on every instance; the lock key is {@code run-once/<name>}. */
    String name();

    /**
     * The lease: if the instance dies mid-run, the key frees itself after this. Not renewed, so set
     * it well above the job's longest run; another instance may start the job once it has passed.
     */
    String lockAtMostFor();

    /**
     * How long after the start the key stays taken even when the method returned sooner: more than
     * the spread of the instances' timers, less than the interval between ticks. Default zero: the
     * key is freed when the method returns, so an instance whose timer fires after that runs the
     * same tick again.
     */
    String lockAtLeastFor() default "0s";

    /** The registration that holds the key ({@code lp_<id>} or {@code <id>}); default: the default registration. */
    String provider() default "";
}
