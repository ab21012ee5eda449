package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockLostException;
import dev.locking.core.fixtures.ScriptedProviderFactory;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** close() releases what running jobs hold before it closes the providers. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CloseTest {
    private final ExecutorService callers = Executors.newCachedThreadPool();

    @AfterEach
    void stopCallers() throws InterruptedException {
        callers.shutdownNow();
        assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));
    }

    private static LockingModule module(String id, String shutdownTimeout) {
        return LockingModule.create(ConfigFactory.parseString("locking { shutdown-timeout = " + shutdownTimeout
                + ", providers = [{ resolve = test-scripted, id = " + id + " }] }"));
    }

    @Test
    void closeWaitsForARunningJobWhichReleasesItsKeysBeforeTheProviderCloses() throws Exception {
        String id = "close-drain-" + UUID.randomUUID().toString().substring(0, 8);
        ScriptedProviderFactory.Script script = ScriptedProviderFactory.script(id);
        LockingModule module = module(id, "30s");
        CountDownLatch started = new CountDownLatch(1), mayEnd = new CountDownLatch(1);
        Future<String> job = callers.submit(() -> module.execute("k", lock -> {
            started.countDown();
            mayEnd.await(20, TimeUnit.SECONDS);
            return "done";
        }));
        assertTrue(started.await(20, TimeUnit.SECONDS));
        Future<?> closer = callers.submit(() -> module.close());
        Thread.sleep(300);
        assertEquals(List.of(), List.copyOf(script.events), "nothing released or closed while the job runs");
        mayEnd.countDown();
        assertEquals("done", job.get(20, TimeUnit.SECONDS));
        closer.get(20, TimeUnit.SECONDS);
        assertEquals(List.of("release [k]", "close"), List.copyOf(script.events));
    }

    @Test
    void aJobOutlivingTheShutdownTimeoutHasItsKeysReleasedBeforeTheProviderCloses() throws Exception {
        String id = "close-abandon-" + UUID.randomUUID().toString().substring(0, 8);
        ScriptedProviderFactory.Script script = ScriptedProviderFactory.script(id);
        LockingModule module = module(id, "200ms");
        CountDownLatch started = new CountDownLatch(1), mayEnd = new CountDownLatch(1);
        Future<Boolean> job = callers.submit(() -> module.execute("k", lock -> {
            started.countDown();
            mayEnd.await(20, TimeUnit.SECONDS);
            return lock.isLost();
        }));
        assertTrue(started.await(20, TimeUnit.SECONDS));
        module.close();
        assertEquals(List.of("release [k]", "close"), List.copyOf(script.events));
        mayEnd.countDown();
        ExecutionException e = assertThrows(ExecutionException.class, () -> job.get(20, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof LockLostException, String.valueOf(e.getCause()));
        assertEquals(List.of("release [k]", "close"), List.copyOf(script.events), "no call reached a closed provider");
    }

    @Test
    void aNegativeDrainIsRejected() {
        String id = "close-arg-" + UUID.randomUUID().toString().substring(0, 8);
        try (LockingModule module = module(id, "1s")) {
            assertThrows(IllegalArgumentException.class, () -> module.close(Duration.ofSeconds(-1)));
        }
    }
}
