package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RunOncePerTickTest {
    private static final Duration AT_MOST = Duration.ofMinutes(1);
    private final LockingModule module =
            LockingModule.create(ConfigFactory.parseString("locking.providers = [{ resolve = in-memory }]"));
    /** Two application instances' schedulers, sharing one store. */
    private final RunOncePerTick one = new RunOncePerTick(module), two = new RunOncePerTick(module);

    private final AtomicInteger runs = new AtomicInteger();

    @AfterEach
    void stop() {
        module.close();
    }

    @Test
    void aTickThatFiresALittleLaterOnAnotherInstanceDoesNotRunAgain() {
        assertTrue(one.run("report", AT_MOST, Duration.ofSeconds(30), runs::incrementAndGet));
        // execute would have released by now; lockAtLeast keeps the key for the rest of the tick.
        assertFalse(two.run("report", AT_MOST, Duration.ofSeconds(30), runs::incrementAndGet));
        assertEquals(1, runs.get());
        assertThrows(LockAcquisitionException.class, () -> module.acquire("run-once/report"));
    }

    @Test
    void theNextTickRunsOnceLockAtLeastHasPassed() throws InterruptedException {
        assertTrue(one.run("report", AT_MOST, Duration.ofMillis(200), runs::incrementAndGet));
        assertFalse(two.run("report", AT_MOST, Duration.ofMillis(200), runs::incrementAndGet));
        Thread.sleep(400);
        assertTrue(two.run("report", AT_MOST, Duration.ofMillis(200), runs::incrementAndGet));
        assertEquals(2, runs.get());
    }

    @Test
    void withoutLockAtLeastTheKeyIsFreeAsSoonAsTheJobEnds() {
        assertTrue(one.run("report", AT_MOST, Duration.ZERO, runs::incrementAndGet));
        assertTrue(two.run("report", AT_MOST, Duration.ZERO, runs::incrementAndGet));
        assertEquals(2, runs.get());
    }

    @Test
    void aTickIsSkippedWhileAnotherInstanceRunsIt() throws Exception {
        CountDownLatch running = new CountDownLatch(1), finish = new CountDownLatch(1);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> first = pool.submit(() -> one.run("report", AT_MOST, Duration.ZERO, () -> {
                running.countDown();
                await(finish);
            }));
            assertTrue(running.await(10, TimeUnit.SECONDS));
            assertFalse(two.run("report", AT_MOST, Duration.ZERO, runs::incrementAndGet));
            finish.countDown();
            assertTrue(first.get(10, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, runs.get());
    }

    @Test
    void aJobThatFailsStillHoldsTheTickForLockAtLeast() {
        IllegalStateException failure = assertThrows(
                IllegalStateException.class,
                () -> one.run("report", AT_MOST, Duration.ofSeconds(30), () -> {
                    throw new IllegalStateException("job failed");
                }));
        assertEquals("job failed", failure.getMessage());
        assertFalse(two.run("report", AT_MOST, Duration.ofSeconds(30), runs::incrementAndGet));
    }

    @Test
    void theLockOfATickIsALeaseOfLockAtMost() {
        assertTrue(one.run("report", Duration.ofMillis(300), Duration.ofMillis(300), runs::incrementAndGet));
        // A lease: an instance that died mid-job cannot keep the key forever.
        assertNotNull(module.locks(LockOptions.defaults(), 10).get(0).expiresAt());
    }

    @Test
    void badArgumentsAreRefusedByName() {
        assertMessage("name must not be blank", () -> one.run(" ", AT_MOST, Duration.ZERO, () -> {}));
        assertMessage(
                "lockAtMost must be positive, was PT0S", () -> one.run("r", Duration.ZERO, Duration.ZERO, () -> {}));
        assertMessage(
                "lockAtLeast must be zero or positive, was PT-1S",
                () -> one.run("r", AT_MOST, Duration.ofSeconds(-1), () -> {}));
        assertMessage(
                "lockAtLeast (PT2M) must not be longer than lockAtMost (PT1M)",
                () -> one.run("r", AT_MOST, Duration.ofMinutes(2), () -> {}));
        assertMessage("job must not be null", () -> one.run("r", AT_MOST, Duration.ZERO, null));
    }

    private static void assertMessage(String message, Runnable call) {
        assertEquals(
                message, assertThrows(IllegalArgumentException.class, call::run).getMessage());
    }

    private static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void closeWaitsForTheRunUnderWaySoItsKeyIsReleasedAndThenSkipsEveryRun() throws Exception {
        CountDownLatch started = new CountDownLatch(1), finish = new CountDownLatch(1);
        ExecutorService scheduler = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> underWay = scheduler.submit(() -> one.run("report", AT_MOST, Duration.ZERO, () -> {
                started.countDown();
                await(finish);
                runs.incrementAndGet();
            }));
            assertTrue(started.await(10, TimeUnit.SECONDS));
            Future<Boolean> closed = Executors.newSingleThreadExecutor(r -> {
                        Thread t = new Thread(r);
                        t.setDaemon(true);
                        return t;
                    })
                    .submit(() -> one.close(Duration.ofSeconds(30)));
            Thread.sleep(100);
            assertFalse(closed.isDone(), "close waits for the job under way");
            finish.countDown();
            assertTrue(closed.get(10, TimeUnit.SECONDS), "and returns once it ended");
            assertTrue(underWay.get(10, TimeUnit.SECONDS));
            // The key was released before the module could close: anyone may take it.
            module.acquire("run-once/report", LockOptions.defaults().owner("next"));
        } finally {
            finish.countDown();
            scheduler.shutdownNow();
        }
        assertFalse(one.run("report", AT_MOST, Duration.ZERO, runs::incrementAndGet), "closed: skips");
        assertFalse(one.in("lp_in-memory").run("other", AT_MOST, Duration.ZERO, runs::incrementAndGet));
        assertEquals(1, runs.get());
    }

    @Test
    void closeGivesUpAfterItsDrain() throws Exception {
        CountDownLatch started = new CountDownLatch(1), finish = new CountDownLatch(1);
        ExecutorService scheduler = Executors.newSingleThreadExecutor();
        try {
            scheduler.submit(() -> one.run("report", AT_MOST, Duration.ZERO, () -> {
                started.countDown();
                await(finish);
            }));
            assertTrue(started.await(10, TimeUnit.SECONDS));
            assertFalse(one.close(Duration.ofMillis(50)), "the job still runs");
        } finally {
            finish.countDown();
            scheduler.shutdownNow();
        }
    }
}
