package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.fixtures.ScriptedProviderFactory;
import dev.locking.spi.AcquireResult;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A call that fails leaves none of its keys held, whatever became of its reply: the store here
 * commits a grant and then the call fails, as when a reply is lost on the network.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FailedCallUndoTest {
    private ScriptedProviderFactory.Script script;
    private LockingModule module;
    /** Keys whose next granted attempt "loses its reply". */
    private final List<String> loseNextReply = new java.util.concurrent.CopyOnWriteArrayList<>();

    @BeforeEach
    void start() {
        String id = "undo-" + UUID.randomUUID().toString().substring(0, 8);
        script = ScriptedProviderFactory.script(id);
        // Only a granted attempt loses its reply: the store committed, the caller never hears of it.
        script.afterAcquire = (request, result) -> {
            if (result instanceof AcquireResult.Acquired
                    && request.keys().stream().anyMatch(loseNextReply::remove))
                throw new LockingException("I/O error (08006): the reply was lost");
        };
        module = LockingModule.create(
                ConfigFactory.parseString("locking.providers = [{ resolve = test-scripted, id = " + id + " }]"));
    }

    @AfterEach
    void stop() {
        module.close();
    }

    private static LockOptions owner(String name) {
        return LockOptions.defaults().owner(name);
    }

    /** Waits up to 20 s for {@code condition}. */
    private static boolean eventually(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) return false;
            Thread.sleep(10);
        }
        return true;
    }

    /** True when another owner can take {@code keys} at once (and gives them back). */
    private boolean free(List<String> keys) {
        try {
            module.acquire(keys, owner("probe"));
        } catch (LockAcquisitionException e) {
            return false;
        }
        assertTrue(module.release(keys, owner("probe")));
        return true;
    }

    @Test
    void aFailureTheProviderKnowsLeftTheStoreUntouchedIsNotUndone() {
        script.afterAcquire = (request, result) -> {
            throw new LockingException("no connection to the store");
        };
        script.mayHaveTaken = failure -> false;
        assertThrows(LockingException.class, () -> module.acquire("a"));
        assertThrows(LockingException.class, () -> module.execute("b", lock -> null));
        module.close(); // close() would try a pending undo once more
        assertEquals(0, script.undos.get(), "no undo reached the store");
        assertFalse(script.events.stream().anyMatch(e -> e.startsWith("release")), script.events.toString());
    }

    @Test
    void anAnonymousAcquireWithoutLeaseWhoseReplyIsLostLeavesNoKeyHeld() throws InterruptedException {
        loseNextReply.add("k");
        LockingException e = assertThrows(LockingException.class, () -> module.acquire("k"));
        assertTrue(e.getMessage().contains("reply was lost"), e.getMessage());
        assertTrue(eventually(() -> free(List.of("k"))), "the key the failed call was granted stays held");
        assertEquals(1, script.undos.get());
    }

    @Test
    void aMultiKeyAcquireWhoseReplyIsLostLeavesNoneOfItsKeysHeld() throws InterruptedException {
        loseNextReply.add("b");
        assertThrows(
                LockingException.class,
                () -> module.acquire(List.of("a", "b", "c"), owner("A").expire(Duration.ofMinutes(10))));
        assertTrue(eventually(() -> free(List.of("a", "b", "c"))), "keys of the failed call stay held");
    }

    @Test
    void aWaitingAcquireWhoseReplyIsLostLeavesNoKeyHeld() throws Exception {
        module.acquire("k", owner("holder"));
        loseNextReply.add("k");
        AtomicBoolean failed = new AtomicBoolean();
        Thread waiter = new Thread(() -> {
            try {
                module.acquire("k", owner("A").timeout(Duration.ofSeconds(20)));
            } catch (LockingException e) {
                failed.set(true);
            }
        });
        waiter.start();
        Thread.sleep(200); // parked
        assertTrue(module.release("k", owner("holder")));
        waiter.join(20_000);
        assertTrue(failed.get(), "the waiter's granted attempt failed");
        assertTrue(eventually(() -> free(List.of("k"))), "the waiter's lost grant stays held");
    }

    @Test
    void anExecuteWhoseReplyIsLostNeverRunsItsJobAndLeavesNoKeyHeld() throws InterruptedException {
        loseNextReply.add("k");
        AtomicBoolean ran = new AtomicBoolean();
        assertThrows(
                LockingException.class,
                () -> module.execute("k", lock -> {
                    ran.set(true);
                    return null;
                }));
        assertFalse(ran.get());
        // execute's owner is unique to the call: freed by a release as that owner.
        assertTrue(eventually(() -> free(List.of("k"))), "the execute's lost grant stays held");
    }

    @Test
    void anUndoIsRetriedInTheBackgroundUntilTheStoreAnswers() throws InterruptedException {
        AtomicInteger refusals = new AtomicInteger(3);
        script.beforeUndo = grantId -> {
            if (refusals.getAndDecrement() > 0) throw new LockingException("the store is unreachable");
        };
        loseNextReply.add("k");
        try (LogCapture log = new LogCapture()) {
            assertThrows(LockingException.class, () -> module.acquire("k", owner("A")));
            assertTrue(eventually(() -> free(List.of("k"))), "the undo was not retried until it succeeded");
            assertTrue(
                    eventually(() -> log.has("INFO", "after 3 failed tries")),
                    log.lines().toString());
            assertTrue(
                    log.has("WARN", "retrying in the background until it succeeds"),
                    log.lines().toString());
        }
        assertEquals(1, script.undos.get());
    }

    @Test
    void anUndoLeavesAKeyItsOwnerHeldBeforeTheFailedReentry() throws InterruptedException {
        module.acquire("k", owner("A"));
        loseNextReply.add("k");
        assertThrows(LockingException.class, () -> module.acquire("k", owner("A")));
        assertTrue(eventually(() -> script.undos.get() == 1));
        assertFalse(free(List.of("k")), "the undo freed the lock A held before its failed re-entry");
        assertTrue(module.release("k", owner("A")));
    }

    @Test
    void anUndoLeavesAKeyItsOwnerReacquiredSinceTheFailure() throws Exception {
        CountDownLatch storeBack = new CountDownLatch(1);
        script.beforeUndo = grantId -> {
            try {
                storeBack.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        loseNextReply.add("k");
        assertThrows(LockingException.class, () -> module.acquire("k", owner("A")));
        module.acquire("k", owner("A")); // the owner tries again, and succeeds: it counts on the key now
        storeBack.countDown();
        assertTrue(eventually(() -> script.undos.get() == 1));
        assertFalse(free(List.of("k")), "the late undo freed the lock of A's successful retry");
        assertTrue(module.release("k", owner("A")));
    }
}
