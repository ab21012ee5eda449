package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.core.fixtures.ScriptedProviderFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Renewals of different execute calls do not wait for one another. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RenewalIsolationTest {

    @Test
    void aRenewalThatHangsOnOneKeyCostsNoOtherExecuteItsLease() throws Exception {
        String id = "renewals-" + UUID.randomUUID().toString().substring(0, 8);
        ScriptedProviderFactory.Script script = ScriptedProviderFactory.script(id);
        CountDownLatch storeAnswers = new CountDownLatch(1);
        // The store hangs on every renewal of a "slow" key, as on a lock row stuck behind another session.
        script.beforeRenew = keys -> {
            if (keys.stream().anyMatch(k -> k.startsWith("slow"))) {
                try {
                    storeAnswers.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        LockOptions shortLease = LockOptions.defaults().expire(Duration.ofMillis(300));
        ExecutorService callers = Executors.newCachedThreadPool();
        // The default number of ready workers (2), and more slow keys than that.
        try (LockingModule module = LockingModule.create(
                ConfigFactory.parseString("locking.providers = [{ resolve = test-scripted, id = " + id + " }]"))) {
            CountDownLatch slowJobsMayEnd = new CountDownLatch(1);
            List<Future<Boolean>> slow = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String key = "slow-" + i;
                slow.add(callers.submit(() -> module.execute(
                        key,
                        lock -> {
                            slowJobsMayEnd.await(30, TimeUnit.SECONDS);
                            return lock.isLost();
                        },
                        shortLease)));
            }
            Thread.sleep(150); // the slow renewals are out before the healthy execute starts
            boolean healthyLost = module.execute(
                    "healthy",
                    lock -> {
                        Thread.sleep(1500); // five leases long: only renewals keep it
                        return lock.isLost();
                    },
                    shortLease);
            assertFalse(healthyLost, "the healthy execute lost its lease to renewals hanging on other keys");
            assertTrue(script.renewals.get() >= 4, "the healthy lease was renewed, " + script.renewals.get());

            slowJobsMayEnd.countDown();
            storeAnswers.countDown();
            for (Future<Boolean> f : slow) {
                // A renewal unanswered at the end of the lease: the job saw isLost(), execute throws.
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
                assertTrue(e.getCause() instanceof LockLostException, String.valueOf(e.getCause()));
            }
        } finally {
            storeAnswers.countDown();
            callers.shutdownNow();
            assertEquals(true, callers.awaitTermination(30, TimeUnit.SECONDS));
        }
    }
}
