package dev.locking.core;

import dev.locking.spi.Printable;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frees what failed calls may have taken. An attempt that throws may still have been granted by
 * the store (its reply was lost, or the call was cut after the commit), and its caller, who got an
 * exception, will never release it: without an undo a lock without a lease would stay held for
 * good. Each undo runs on a worker at once, then again with a growing pause until the store
 * answers: for a call with a lease only until that lease would have ended (the store frees the
 * key then anyway), for one without, until it succeeds or the module closes, with a warning now
 * and then.
 */
final class Undos {
    private static final Logger log = LoggerFactory.getLogger(Undos.class);
    private static final long FIRST_PAUSE_NANOS = Duration.ofMillis(100).toNanos();
    private static final long LONGEST_PAUSE_NANOS = Duration.ofSeconds(30).toNanos();
    /** How often an undo that keeps failing says so again. */
    private static final long WARN_AGAIN_NANOS = Duration.ofMinutes(10).toNanos();

    private final Background background;
    private final Set<Undo> pending = ConcurrentHashMap.newKeySet();

    Undos(Background background) {
        this.background = background;
    }

    /**
     * Frees, in the background, what the call {@code grantId} may have taken.
     *
     * @param ownerIsUnique true when no other call uses {@code owner} (execute's owners): then
     *     releasing by owner frees exactly this call's keys, and no grant id is needed
     * @param lease the lease the call asked for, or null for none
     * @param failedAtNanos when the failed attempt ended: a grant it made came before
     */
    void undo(
            Registration registration,
            List<String> keys,
            String owner,
            boolean ownerIsUnique,
            String grantId,
            Duration lease,
            long failedAtNanos) {
        Undo undo = new Undo(registration, keys, owner, ownerIsUnique, grantId, lease, failedAtNanos);
        pending.add(undo);
        if (!background.run(undo)) undo.run(); // shutting down: try once here, close() retries the rest
    }

    /** The undos that have not succeeded yet. */
    int pending() {
        return pending.size();
    }

    /**
     * At close, before the providers close: one last try of every pending undo on the calling
     * thread; what still fails is logged as left held.
     */
    void finish() {
        for (Undo undo : List.copyOf(pending)) {
            undo.closing = true;
            undo.run();
        }
    }

    private final class Undo implements Runnable {
        private final Registration registration;
        private final List<String> keys;
        private final String owner;
        private final boolean ownerIsUnique;
        private final String grantId;
        /** Past this (nanoTime) a grant of the call has expired by itself; null for a call without a lease. */
        private final Long pointlessAfter;
        /** One try at a time: a retry and close()'s last try never overlap. */
        private final AtomicBoolean running = new AtomicBoolean();

        private long pause = FIRST_PAUSE_NANOS;
        private int failures;
        private long warnedAt;
        private volatile boolean closing;

        Undo(
                Registration registration,
                List<String> keys,
                String owner,
                boolean ownerIsUnique,
                String grantId,
                Duration lease,
                long failedAtNanos) {
            this.registration = registration;
            this.keys = keys;
            this.owner = owner;
            this.ownerIsUnique = ownerIsUnique;
            this.grantId = grantId;
            this.pointlessAfter = lease == null ? null : failedAtNanos + lease.toNanos();
        }

        @Override
        public void run() {
            if (!pending.contains(this) || !running.compareAndSet(false, true)) return;
            try {
                tryOnce();
            } finally {
                running.set(false);
            }
        }

        private void tryOnce() {
            try {
                if (ownerIsUnique) registration.provider().release(keys, owner);
                else registration.provider().undo(keys, owner, grantId);
                pending.remove(this);
                if (failures > 0)
                    log.info(
                            "Freed what the failed call on {} (owner {}) in {} may have taken, after {} failed tries",
                            Keys.printable(keys),
                            Printable.escape(owner),
                            registration,
                            failures);
            } catch (UnsupportedOperationException e) {
                pending.remove(this);
                log.warn(
                        "A call on {} (owner {}) in {} failed, and the store may have granted it before the failure;"
                                + " this provider cannot undo a grant by its id, so the keys may stay held {}",
                        Keys.printable(keys),
                        Printable.escape(owner),
                        registration,
                        until());
            } catch (RuntimeException e) {
                failures++;
                long now = System.nanoTime();
                if (pointlessAfter != null && now - pointlessAfter >= 0) {
                    pending.remove(this);
                    log.info(
                            "Gave up freeing what the failed call on {} in {} may have taken: its lease has ended",
                            Keys.printable(keys),
                            registration);
                    return;
                }
                if (closing) {
                    pending.remove(this);
                    log.error(
                            "The module closed before it could free what the failed call on {} (owner {}) in {}"
                                    + " may have taken ({}); the keys may stay held {}",
                            Keys.printable(keys),
                            Printable.escape(owner),
                            registration,
                            Printable.escape(e.getMessage()),
                            until());
                    return;
                }
                if (failures == 1 || now - warnedAt >= WARN_AGAIN_NANOS) {
                    warnedAt = now;
                    log.warn(
                            "A call on {} (owner {}) in {} failed, and the store may have granted it before the"
                                    + " failure; freeing it failed {} time(s) ({}), retrying in the background {}",
                            Keys.printable(keys),
                            Printable.escape(owner),
                            registration,
                            failures,
                            Printable.escape(e.getMessage()),
                            pointlessAfter == null ? "until it succeeds" : "while its lease lasts");
                }
                long delay = pause;
                pause = Math.min(LONGEST_PAUSE_NANOS, pause * 2);
                if (pointlessAfter != null) delay = Math.min(delay, Math.max(0, pointlessAfter - now));
                // Shutting down: close() gives it a last try.
                background.later(delay, this);
            }
        }

        private String until() {
            return pointlessAfter == null
                    ? "until released (owner " + Printable.escape(owner) + ")"
                    : "until released or their lease ends";
        }
    }
}
