package dev.locking.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.core.LockingModule;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The meters of API.md, recorded from real calls on the in-memory provider. */
class LockingMetricsTest {
    private LockingModule module;
    private SimpleMeterRegistry registry;

    @BeforeEach
    void start() {
        module = LockingModule.create(
                ConfigFactory.parseString(
                        """
                locking.providers = [
                  { resolve = in-memory, id = mem, is-default = true }
                  { resolve = in-memory, id = other }
                ]"""));
        registry = new SimpleMeterRegistry();
        new LockingMetrics(module).bindTo(registry);
    }

    @AfterEach
    void stop() {
        module.close();
    }

    private Timer acquire(String outcome) {
        return registry.get("locking.acquire")
                .tags("provider", "lp_mem", "outcome", outcome)
                .timer();
    }

    private static LockOptions owner(String owner) {
        return LockOptions.defaults().owner(owner);
    }

    @Test
    void everyMeterOfEveryRegistrationExistsAtZeroBeforeTheFirstCall() {
        Set<String> meters = registry.getMeters().stream()
                .map(m -> m.getId().getName() + " " + m.getId().getTags())
                .collect(Collectors.toSet());
        for (String provider : List.of("lp_mem", "lp_other")) {
            for (String outcome : List.of("acquired", "busy", "timeout", "error"))
                assertTrue(
                        meters.contains(
                                "locking.acquire [tag(outcome=" + outcome + "), tag(provider=" + provider + ")]"),
                        meters.toString());
            assertTrue(meters.contains("locking.held [tag(provider=" + provider + ")]"), meters.toString());
            assertTrue(meters.contains("locking.lost [tag(provider=" + provider + ")]"), meters.toString());
            assertTrue(meters.contains("locking.waiting [tag(provider=" + provider + ")]"), meters.toString());
        }
        assertEquals(2 * 7, meters.size(), meters.toString());
        assertEquals(0, acquire("acquired").count());
    }

    @Test
    void acquireIsTimedByOutcomeAndItsReleaseEndsAHold() throws Exception {
        module.acquire("k", owner("a"));
        assertThrows(LockAcquisitionException.class, () -> module.acquire("k", owner("b")));
        assertThrows(
                LockTimeoutException.class, () -> module.acquire("k", owner("b").timeout(Duration.ofMillis(300))));
        Thread.sleep(10);
        module.release("k", owner("a"));

        assertEquals(1, acquire("acquired").count());
        assertEquals(1, acquire("busy").count());
        assertEquals(1, acquire("timeout").count());
        assertTrue(acquire("timeout").totalTime(TimeUnit.MILLISECONDS) >= 300);
        Timer held = registry.get("locking.held").tag("provider", "lp_mem").timer();
        assertEquals(1, held.count());
        assertTrue(held.totalTime(TimeUnit.MILLISECONDS) >= 10);
        assertEquals(
                0,
                registry.get("locking.held").tag("provider", "lp_other").timer().count());
    }

    @Test
    void executeIsTimedAndALostLeaseIsCounted() {
        module.execute("k", lock -> null);
        assertThrows(
                LockLostException.class, () -> module.execute("k", lock -> module.release("k", owner(lock.owner()))));

        assertEquals(2, acquire("acquired").count());
        assertEquals(
                2,
                registry.get("locking.held").tag("provider", "lp_mem").timer().count());
        assertEquals(
                1.0,
                registry.get("locking.lost").tag("provider", "lp_mem").counter().count());
    }

    @Test
    void theWaitingGaugeCountsCallersWaitingNow() throws Exception {
        module.acquire("k", owner("a"));
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> one = pool.submit(() -> module.acquire("k", owner("b").timeout(Duration.ofSeconds(30))));
            Future<?> two = pool.submit(() -> module.acquire("k", owner("c").timeout(Duration.ofSeconds(30))));
            assertEquals(2.0, awaitGauge(2.0));
            module.release("k", owner("a"));
            assertEquals(1.0, awaitGauge(1.0));
            // Whichever of the two took the key frees it for the other.
            module.release("k", owner("b"));
            module.release("k", owner("c"));
            one.get(30, TimeUnit.SECONDS);
            two.get(30, TimeUnit.SECONDS);
            assertEquals(0.0, gauge());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void keysAndOwnersAreNeverTags() {
        module.execute("prod_123", lock -> null, owner("checkout-42"));
        for (Meter meter : registry.getMeters())
            for (Tag tag : meter.getId().getTags())
                assertTrue(
                        Set.of("provider", "outcome").contains(tag.getKey()),
                        meter.getId().toString());
    }

    @Test
    void theWaitingGaugeOfAClosedModuleIsNaN() {
        module.close();
        assertTrue(Double.isNaN(gauge()));
    }

    private double gauge() {
        return registry.get("locking.waiting").tag("provider", "lp_mem").gauge().value();
    }

    private double awaitGauge(double expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (gauge() != expected && System.nanoTime() < deadline) Thread.sleep(5);
        return gauge();
    }
}
