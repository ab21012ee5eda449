package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockingException;
import dev.locking.core.fixtures.ScriptedProviderFactory;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** A module that fails to start closes everything it opened. */
class FailedStartTest {

    /** Live threads of this library (core's, and any a provider names "locking-..."). */
    static List<String> lockingThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(name -> name.startsWith("locking-"))
                .sorted()
                .toList();
    }

    /** Waits up to 10 s for every thread of this library outside {@code before} to end. */
    static void assertNoThreadBeyond(List<String> before) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<String> now = lockingThreads();
        while (!before.containsAll(now) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            now = lockingThreads();
        }
        assertTrue(before.containsAll(now), "threads left behind: " + now + ", before: " + before);
    }

    @Test
    void aFailedMigrateOnStartClosesEveryProviderAndLeavesNoThread() throws InterruptedException {
        String run = UUID.randomUUID().toString().substring(0, 8);
        ScriptedProviderFactory.Script healthy = ScriptedProviderFactory.script("healthy-" + run);
        ScriptedProviderFactory.Script failing = ScriptedProviderFactory.script("failing-" + run);
        // A poll interval makes the module schedule its waiter refresh, so its threads start.
        healthy.pollInterval = Duration.ofMillis(50);
        failing.pollInterval = Duration.ofMillis(50);
        failing.migrate = () -> {
            throw new LockingException("permission denied for database app");
        };
        Config config = ConfigFactory.parseString("locking { migrate-on-start = true, providers = ["
                + "{ resolve = test-scripted, id = healthy-" + run + ", is_default = true },"
                + "{ resolve = test-scripted, id = failing-" + run + " } ] }");
        List<String> before = lockingThreads();
        for (int i = 0; i < 5; i++) {
            LockingException e = assertThrows(LockingException.class, () -> LockingModule.create(config));
            assertTrue(e.getMessage().contains("permission denied"), e.getMessage());
        }
        assertEquals(5, healthy.closed.get(), "the provider that started was closed each time");
        assertEquals(5, failing.closed.get(), "the provider whose migration failed was closed each time");
        assertNoThreadBeyond(before);
    }
}
