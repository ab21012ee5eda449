package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireResult;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Grants a store made on a parked waiter's behalf: handed over exactly once, never after it gave up. */
class LocalWaitersTest {
    private static final Duration LEASE = Duration.ofSeconds(30);

    private static AcquireResult.Acquired grant(long token) {
        return new AcquireResult.Acquired(Map.of("k", token), Instant.now().plusSeconds(30));
    }

    @Test
    @DisplayName("a grant wakes its waiter and is handed to it; a second one and unknown waiters are refused")
    void aGrantIsHandedOnce() throws InterruptedException {
        LocalWaiters waiters = new LocalWaiters();
        LocalWaiters.Waiter waiter = waiters.register(List.of("k"), LEASE);
        assertNull(waiter.handedGrant());
        AcquireResult.Acquired first = grant(1);
        assertTrue(waiters.grant(waiter.id, first));
        assertFalse(waiters.grant(waiter.id, grant(2)), "one grant per wait");
        assertFalse(waiters.grant("not-here", grant(3)), "a waiter of another process");
        LocalWaiters.Waiter other = waiters.register(List.of("k"), LEASE);
        assertFalse(waiters.grant(other.id, new AcquireResult.Acquired(Map.of("k", 5L), null)), "no lease");
        assertFalse(waiters.grant(null, grant(5)));
        assertFalse(waiters.grant(other.id, null));
        assertNull(other.handedGrant());
        long started = System.nanoTime();
        waiter.await(TimeUnit.SECONDS.toNanos(10));
        assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5), "the grant woke the waiter");
        assertSame(first, waiter.handedGrant());
        assertSame(first, waiter.close(), "a waiter that stops after a grant was handed must take it");
        waiters.unregister(waiter);
        assertFalse(waiters.grant(waiter.id, grant(4)), "gone");
    }

    @Test
    @DisplayName("a waiter that gave up refuses a later grant, so the provider frees it instead")
    void aClosedWaiterRefusesGrants() {
        LocalWaiters waiters = new LocalWaiters();
        LocalWaiters.Waiter waiter = waiters.register(List.of("k"), LEASE);
        assertNull(waiter.close());
        assertFalse(waiters.grant(waiter.id, grant(1)));
        assertNull(waiter.handedGrant());
    }

    @Test
    @DisplayName("a waiter without a lease, or one that has waited half its lease, refuses a grant")
    void aLateGrantIsRefused() throws InterruptedException {
        LocalWaiters waiters = new LocalWaiters();
        LocalWaiters.Waiter noLease = waiters.register(List.of("k"), null);
        assertFalse(waiters.grant(noLease.id, grant(1)), "nothing would end such a grant if it went unused");
        LocalWaiters.Waiter shortLease = waiters.register(List.of("k"), Duration.ofMillis(40));
        Thread.sleep(25);
        // Counted from the start of the wait, the grant would have under half its lease left.
        assertFalse(waiters.grant(shortLease.id, grant(2)));
        assertNull(shortLease.handedGrant());
        // Woken to check with an attempt of its own, rather than leave the key idle until it polls.
        long started = System.nanoTime();
        shortLease.await(TimeUnit.SECONDS.toNanos(10));
        assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5), "the refused grant woke the waiter");
        assertNull(shortLease.close(), "and it was never handed over");
    }

    @Test
    @DisplayName("racing a grant against giving up: exactly one of them wins, every time")
    void grantAndCloseRace() throws Exception {
        var pool = Executors.newFixedThreadPool(2);
        try {
            AtomicInteger handed = new AtomicInteger(), refused = new AtomicInteger();
            for (int i = 0; i < 2_000; i++) {
                LocalWaiters waiters = new LocalWaiters();
                LocalWaiters.Waiter waiter = waiters.register(List.of("k"), LEASE);
                AcquireResult.Acquired g = grant(i);
                CountDownLatch go = new CountDownLatch(1);
                var offered = pool.submit(() -> {
                    go.await();
                    return waiters.grant(waiter.id, g);
                });
                var closed = pool.submit(() -> {
                    go.await();
                    return waiter.close();
                });
                go.countDown();
                boolean accepted = offered.get(10, TimeUnit.SECONDS);
                AcquireResult.Acquired kept = closed.get(10, TimeUnit.SECONDS);
                // Accepted by the waiter exactly when the closing waiter came away with it.
                assertTrue(accepted == (kept == g), "round " + i + ": accepted " + accepted + ", kept " + kept);
                (accepted ? handed : refused).incrementAndGet();
            }
            assertTrue(handed.get() + refused.get() == 2_000);
        } finally {
            pool.shutdownNow();
        }
    }
}
