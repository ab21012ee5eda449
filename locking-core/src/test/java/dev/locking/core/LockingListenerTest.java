package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.api.LockingException;
import dev.locking.core.LockingListener.Outcome;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LockingListenerTest {
    private static final String PROVIDER = "lp_mem";

    /** Every event as a line, e.g. "acquire lp_mem ACQUIRED"; the durations apart. */
    static final class Recorder implements LockingListener {
        final List<String> events = new CopyOnWriteArrayList<>();
        final List<Long> acquireNanos = new CopyOnWriteArrayList<>();
        final List<Long> holdNanos = new CopyOnWriteArrayList<>();
        volatile CountDownLatch waiting = new CountDownLatch(1);

        @Override
        public void acquireEnded(String provider, Outcome outcome, long nanos) {
            events.add("acquire " + provider + " " + outcome);
            acquireNanos.add(nanos);
        }

        @Override
        public void holdEnded(String provider, long nanos) {
            events.add("held " + provider);
            holdNanos.add(nanos);
        }

        @Override
        public void leaseLost(String provider) {
            events.add("lost " + provider);
        }

        @Override
        public void waitingStarted(String provider) {
            events.add("waiting " + provider);
            waiting.countDown();
        }

        @Override
        public void waitingEnded(String provider) {
            events.add("stopped waiting " + provider);
        }
    }

    private LockingModule module;
    private final Recorder recorder = new Recorder();

    @BeforeEach
    void start() {
        module = LockingModule.create(
                ConfigFactory.parseString("locking.providers = [{ resolve = in-memory, id = mem }]"));
        module.addListener(recorder);
    }

    @AfterEach
    void stop() {
        module.close();
    }

    private static LockOptions owner(String owner) {
        return LockOptions.defaults().owner(owner);
    }

    @Test
    void anAcquireAndItsReleaseReportTheGrantAndTheHold() throws InterruptedException {
        module.acquire("k", owner("a"));
        Thread.sleep(20);
        assertTrue(module.release("k", owner("a")));

        assertEquals(List.of("acquire lp_mem ACQUIRED", "held lp_mem"), recorder.events);
        assertTrue(recorder.holdNanos.get(0) >= Duration.ofMillis(20).toNanos(), recorder.holdNanos.toString());
    }

    @Test
    void aBusyKeyIsReportedAsBusyAndAReleaseOfNothingEndsNoHold() {
        module.acquire("k", owner("a"));
        assertThrows(LockAcquisitionException.class, () -> module.acquire("k", owner("b")));
        assertFalse(module.release("k", owner("b")));

        assertEquals(List.of("acquire lp_mem ACQUIRED", "acquire lp_mem BUSY"), recorder.events);
    }

    @Test
    void aWaitThatRunsOutReportsTheWaitAndATimeout() throws Exception {
        module.acquire("k", owner("a"));
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<?> waiter = pool.submit(() -> module.acquire("k", owner("b").timeout(Duration.ofMillis(500))));
            assertTrue(recorder.waiting.await(10, TimeUnit.SECONDS));
            assertEquals(1, module.waitingCallers(PROVIDER));
            Exception failure = assertThrows(Exception.class, () -> waiter.get(10, TimeUnit.SECONDS));
            assertTrue(failure.getCause() instanceof LockTimeoutException, failure.toString());
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0, module.waitingCallers("mem"));
        assertEquals(
                List.of(
                        "acquire lp_mem ACQUIRED",
                        "waiting lp_mem",
                        "stopped waiting lp_mem",
                        "acquire lp_mem TIMEOUT"),
                recorder.events);
        assertTrue(recorder.acquireNanos.get(1) >= Duration.ofMillis(500).toNanos());
    }

    @Test
    void anInterruptedWaitIsReportedAsAnError() {
        module.acquire("k", owner("a"));
        Thread.currentThread().interrupt();
        try {
            assertThrows(
                    LockingException.class, () -> module.acquire("k", owner("b").timeout(Duration.ofSeconds(5))));
        } finally {
            Thread.interrupted();
        }
        assertEquals("acquire lp_mem ERROR", recorder.events.get(recorder.events.size() - 1));
    }

    @Test
    void executeReportsItsGrantAndAHoldAsLongAsItsJob() throws InterruptedException {
        module.execute("k", lock -> {
            Thread.sleep(30);
            return null;
        });

        assertEquals(List.of("acquire lp_mem ACQUIRED", "held lp_mem"), recorder.events);
        assertTrue(recorder.holdNanos.get(0) >= Duration.ofMillis(30).toNanos());
    }

    @Test
    void executeWhoseLockIsTakenAwayReportsTheLostLease() {
        assertThrows(
                LockLostException.class, () -> module.execute("k", lock -> module.release("k", owner(lock.owner()))));

        assertTrue(recorder.events.contains("lost lp_mem"), recorder.events.toString());
        assertTrue(recorder.events.contains("held lp_mem"), recorder.events.toString());
    }

    @Test
    void releaseAllEndsTheHoldOfEveryAcquireOfThatOwner() {
        module.acquire("k1", owner("a"));
        module.acquire(List.of("k2", "k3"), owner("a"));
        module.acquire("k4", owner("other"));

        assertEquals(3, module.releaseAll(owner("a")));

        assertEquals(
                2, recorder.events.stream().filter(e -> e.startsWith("held")).count(), recorder.events.toString());
    }

    @Test
    void aListenerThatThrowsNeitherFailsTheCallNorStopsTheOthers() {
        LockingListener broken = new LockingListener() {
            @Override
            public void acquireEnded(String provider, Outcome outcome, long nanos) {
                throw new IllegalStateException("listener bug");
            }

            @Override
            public void holdEnded(String provider, long nanos) {
                throw new IllegalStateException("listener bug");
            }
        };
        module.removeListener(recorder);
        module.addListener(broken);
        module.addListener(recorder);
        try (LogCapture log = new LogCapture()) {
            assertEquals("done", module.execute("k", lock -> "done"));
            module.acquire("k", owner("a"));
            assertTrue(module.release("k", owner("a")));

            assertEquals(4, recorder.events.size(), recorder.events.toString());
            assertEquals(
                    1,
                    log.lines().stream()
                            .filter(l -> l.startsWith("WARN ") && l.contains("LockingListener"))
                            .count(),
                    log.lines().toString());
        }
    }

    @Test
    void aRemovedListenerHearsNothingMore() {
        assertTrue(module.removeListener(recorder));
        module.execute("k", lock -> null);
        assertEquals(List.of(), recorder.events);
    }

    @Test
    void holdsOfLocksNeverReleasedHereStayBounded() {
        AcquiredHolds holds = new AcquiredHolds();
        long now = System.nanoTime();
        for (int i = 0; i < AcquiredHolds.CAPACITY + 500; i++)
            holds.granted(PROVIDER, null, List.of("k" + i), now, null);
        assertEquals(AcquiredHolds.CAPACITY, holds.size());

        // Expired entries make room for new grants.
        AcquiredHolds leased = new AcquiredHolds();
        for (int i = 0; i < AcquiredHolds.CAPACITY; i++)
            leased.granted(
                    PROVIDER, "o", List.of("k" + i), now - Duration.ofSeconds(2).toNanos(), Duration.ofSeconds(1));
        leased.granted(PROVIDER, "o", List.of("fresh"), System.nanoTime(), Duration.ofMinutes(1));
        assertEquals(1, leased.size());
    }

    @Test
    void aCheckTakesAndFreesAKeyOfItsOwnUnheardByListeners() {
        module.acquire("k", owner("a"));
        assertTrue(module.check("mem").toNanos() >= 0);
        assertTrue(module.check("lp_mem").toNanos() >= 0);

        assertEquals(List.of("acquire lp_mem ACQUIRED"), recorder.events, "only the application's own call");
        assertEquals(
                List.of("k"),
                module.locks(LockOptions.defaults(), 10).stream()
                        .map(dev.locking.spi.HeldLock::key)
                        .toList(),
                "the check left nothing behind");
        assertThrows(dev.locking.api.UnknownProviderException.class, () -> module.check("nowhere"));
    }
}
