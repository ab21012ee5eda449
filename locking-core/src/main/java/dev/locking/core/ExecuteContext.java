package dev.locking.core;

import dev.locking.api.LockContext;
import dev.locking.api.LockLostException;
import dev.locking.spi.Printable;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
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
    void startRenewal(Background background) {
        renewal = background.repeat(lease.toNanos() / 3, () -> !ended && !isLost(), this::renew);
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
        if (isLost()) return new LockLostException(keys, lostReason == null ? "the lease ran out" : lostReason);
        return null;
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
