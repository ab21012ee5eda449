package dev.locking.core;

import dev.locking.api.LockContext;
import dev.locking.api.LockLostException;
import dev.locking.spi.Printable;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lease of one {@code execute} call: renews it every third of its length while the job runs,
 * and knows when it is lost. The lease is counted from the start of the attempt that won it, and
 * from the start of each renewal that the store confirmed, so the local view never outlives the
 * store's.
 */
final class ExecuteContext implements LockContext {
    private static final Logger log = LoggerFactory.getLogger(ExecuteContext.class);

    private final Registration registration;
    private final List<String> keys;
    private final String owner;
    private final Map<String, Long> tokens;
    private final Duration lease;
    private volatile long validUntilNanos;
    private volatile String lostReason;
    private volatile boolean ended;
    private volatile ScheduledFuture<?> renewal;
    private volatile Lifecycle lifecycle;
    /** Set by whichever releases the keys first: the end of the job, or a close that stopped waiting for it. */
    private final AtomicBoolean released = new AtomicBoolean();

    ExecuteContext(
            Registration registration, List<String> keys, String owner, Duration lease, Registration.Grant grant) {
        this.registration = registration;
        this.keys = keys;
        this.owner = owner;
        this.lease = lease;
        this.tokens = grant.acquired().fencingTokens();
        this.validUntilNanos = grant.attemptStartedNanos() + lease.toNanos();
    }

    /**
     * Renews every third of the lease, each renewal on a worker of its own with the rest of the
     * lease as its deadline. A renewal still unanswered when the lease runs out leaves the
     * context lost; the next one starts only once it has returned.
     */
    void startRenewal(Background background, Lifecycle lifecycle) {
        this.lifecycle = lifecycle;
        lifecycle.jobStarting(this);
        renewal = background.repeat(lease.toNanos() / 3, () -> !ended && !isLost(), this::renew);
    }

    /** One renewal on the caller's thread, e.g. to confirm the lease just before a commit. */
    void renewNow() {
        renew();
    }

    /** One renewal; runs on a worker, never on the scheduler. */
    private void renew() {
        if (ended || lostReason != null) return;
        long started = System.nanoTime();
        long left = validUntilNanos - started;
        if (left <= 0) {
            isLost();
            return;
        }
        try {
            boolean held = registration.provider().renew(keys, owner, lease, Duration.ofNanos(left));
            if (ended) return;
            if (held && lostReason == null) validUntilNanos = started + lease.toNanos();
            else lose("a renewal found the lock released, expired or taken by another owner");
        } catch (RuntimeException e) {
            if (ended) return;
            if (System.nanoTime() - validUntilNanos >= 0)
                lose("renewals failed until the lease ran out: " + e.getMessage());
            else
                log.warn(
                        "Renewing the lease of {} in {} failed; retrying while it lasts",
                        Keys.printable(keys),
                        registration,
                        e);
        }
    }

    private void lose(String reason) {
        if (lostReason == null) {
            lostReason = reason;
            log.warn("Lease of {} in {} lost: {}", Keys.printable(keys), registration, Printable.escape(reason));
        }
    }

    /**
     * Stops renewing and releases. Returns the loss to report, or null when the lease held to
     * the end.
     */
    LockLostException end() {
        ended = true;
        if (renewal != null) renewal.cancel(false);
        boolean lostBefore = isLost();
        if (released.compareAndSet(false, true)) {
            try {
                if (!registration.provider().release(keys, owner) && !lostBefore)
                    lose("the lock was no longer held when the job finished");
            } catch (RuntimeException e) {
                log.warn(
                        "Releasing {} in {} failed; the lock frees itself when its lease ends",
                        Keys.printable(keys),
                        registration,
                        e);
            }
        }
        if (lifecycle != null) lifecycle.jobEnded(this);
        if (isLost()) return new LockLostException(keys, lostReason == null ? "the lease ran out" : lostReason);
        return null;
    }

    /**
     * Gives the keys up while the job still runs, because the module is closing and will not wait
     * for it any longer: the lease counts as lost from now (the job sees {@link #isLost()}, and
     * its {@code execute} throws {@link LockLostException} when it returns), renewals stop, and the
     * keys are released while the provider is still open.
     */
    void abandon(String reason) {
        lose(reason);
        if (renewal != null) renewal.cancel(false);
        if (!released.compareAndSet(false, true)) return;
        try {
            registration.provider().release(keys, owner);
        } catch (RuntimeException e) {
            log.warn(
                    "Releasing {} in {} at close failed; the lock frees itself when its lease ends",
                    Keys.printable(keys),
                    registration,
                    e);
        }
    }

    @Override
    public List<String> keys() {
        return keys;
    }

    @Override
    public String owner() {
        return owner;
    }

    @Override
    public long fencingToken(String key) {
        return Tokens.of(tokens, key);
    }

    /** Latches: once the lease is seen to have run out, a late renewal does not make it valid again. */
    @Override
    public boolean isLost() {
        if (lostReason != null) return true;
        if (System.nanoTime() - validUntilNanos < 0) return false;
        lose("the lease ran out before a renewal confirmed it");
        return true;
    }
}
