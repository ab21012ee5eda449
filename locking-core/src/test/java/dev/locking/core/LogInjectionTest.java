package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Keys reach log lines escaped, so a key cannot forge a line or drive a terminal. */
class LogInjectionTest {

    private static final String FORGED = "k\n2030-01-01 00:00:00 ERROR dev.locking forged line \u001b]0;title\u0007";

    @Test
    void aKeyWithALineBreakCannotForgeALogLine() throws InterruptedException {
        try (LogCapture log = new LogCapture();
                LockingModule module = LockingModule.create(ConfigFactory.empty())) {
            // The job frees its own lock behind execute's back: the renewal logs the loss, naming the key.
            assertThrows(
                    LockLostException.class,
                    () -> module.execute(
                            FORGED,
                            lock -> {
                                module.release(FORGED, LockOptions.defaults().owner(lock.owner()));
                                long deadline = System.nanoTime()
                                        + Duration.ofSeconds(20).toNanos();
                                while (!lock.isLost() && System.nanoTime() < deadline) Thread.sleep(10);
                                return null;
                            },
                            // A lease long enough that the renewal (a third of it) finds the release before the lease
                            // runs out.
                            LockOptions.defaults().expire(Duration.ofSeconds(3))));
            assertTrue(
                    log.has(
                            "WARN",
                            "Lease of [k\\n2030-01-01 00:00:00 ERROR dev.locking forged line \\u001B]0;title\\u0007]"),
                    log.lines().toString());
            for (String line : log.lines()) {
                assertFalse(line.contains("\n"), "a raw line break reached the log: " + line);
                assertFalse(line.contains("\u001b"), "a raw escape character reached the log: " + line);
            }
        }
    }
}
