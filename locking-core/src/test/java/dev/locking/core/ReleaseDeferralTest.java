package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ReleaseDeferralTest {
    /** Stands in for a transaction: takes every release while open, and runs them when it ends. */
    private final List<DeferredRelease> pending = new CopyOnWriteArrayList<>();

    private final AtomicBoolean open = new AtomicBoolean(true);
    private final LockingModule module = LockingModule.builder()
            .config(ConfigFactory.parseString("locking.providers = [{ resolve = in-memory, id = mem }]"))
            .releaseDeferral(release -> open.get() && pending.add(release))
            .build();

    @AfterEach
    void stop() {
        // The stand-in transactions end before the module closes, as an application's do; a
        // release still deferred would hold close() for its whole shutdown-timeout.
        pending.forEach(DeferredRelease::release);
        module.close();
    }

    @Test
    void executeKeepsItsKeysUntilTheDeferredReleaseRuns() {
        assertEquals("done", module.execute(List.of("b", "a"), lock -> "done", LockOptions.defaults()));

        assertEquals(1, pending.size());
        DeferredRelease release = pending.get(0);
        assertEquals("lp_mem", release.provider());
        assertEquals(List.of("a", "b"), release.keys());
        assertThrows(LockAcquisitionException.class, () -> module.acquire("a"));

        assertTrue(release.release().isEmpty(), "released with its lease intact");
        module.acquire("a"); // free now
        assertTrue(release.release().isEmpty(), "a second release does nothing");
        assertTrue(module.release("a"), "and did not free the lock taken since");
    }

    @Test
    void aJobThatThrowsHasItsReleaseDeferredToo() {
        assertThrows(
                IllegalStateException.class,
                () -> module.execute("k", lock -> {
                    throw new IllegalStateException("job failed");
                }));
        assertEquals(1, pending.size());
        assertThrows(LockAcquisitionException.class, () -> module.acquire("k"));
        pending.get(0).release();
        module.acquire("k");
    }

    @Test
    void aLeaseLostBeforeTheDeferredReleaseIsReportedByIt() {
        module.execute("k", lock -> null);
        DeferredRelease release = pending.get(0);
        // Another process frees the key, as a store that lost the lock would.
        assertEquals(1, module.releaseAll(LockOptions.defaults().owner(ownerOf("k"))));

        Exception lost = release.release().orElseThrow();
        assertTrue(lost instanceof LockLostException, lost.toString());
        assertTrue(release.isLost());
    }

    @Test
    void confirmAsksTheStoreWhetherTheKeysAreStillHeld() {
        module.execute("k", lock -> null);
        DeferredRelease release = pending.get(0);
        assertTrue(release.confirm());

        module.releaseAll(LockOptions.defaults().owner(ownerOf("k")));
        assertFalse(release.isLost(), "nothing told this process yet");
        assertFalse(release.confirm());
        assertTrue(release.isLost());
    }

    @Test
    void withoutAUnitOfWorkExecuteReleasesAtOnce() {
        open.set(false);
        module.execute("k", lock -> null);
        assertEquals(0, pending.size());
        module.acquire("k");
    }

    private String ownerOf(String key) {
        return module.locks(LockOptions.defaults(), 10).stream()
                .filter(l -> l.key().equals(key))
                .findFirst()
                .orElseThrow()
                .owner();
    }
}
