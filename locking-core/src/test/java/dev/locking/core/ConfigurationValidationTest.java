package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockingConfigurationException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The module-level {@code locking} keys: each value checked, before anything opens. */
class ConfigurationValidationTest {

    private static LockingConfigurationException configError(String hocon) {
        return assertThrows(
                LockingConfigurationException.class, () -> LockingModule.create(ConfigFactory.parseString(hocon)));
    }

    @Test
    void anExecuteExpirePastTheMaximumIsAConfigurationErrorNamingTheKey() {
        LockingConfigurationException e = configError("locking.execute.expire = 4000d");
        assertTrue(e.getMessage().contains("locking.execute.expire must be at most 3650 days"), e.getMessage());
    }

    @Test
    void aMisspeltModuleKeyIsRejectedNamingItAndTheNearOne() {
        LockingConfigurationException e = configError("locking.exeucte.timeout = 1s");
        assertEquals(
                List.of("locking.exeucte.timeout is not a known key; did you mean locking.execute.timeout?"),
                e.problems());
        assertEquals(
                List.of("locking.migrate_on_start is not a known key; did you mean locking.migrate-on-start?"),
                configError("locking.migrate_on_start = true").problems());
        assertEquals(
                List.of("locking.execute.timeot is not a known key; did you mean locking.execute.timeout?"),
                configError("locking.execute.timeot = 1s").problems());
    }

    @Test
    void everyUnknownKeyIsReportedAtOnceAndAFarOneListsTheKnownKeys() {
        LockingConfigurationException e =
                configError("locking { frobnicate = 1, renewal_threads = 2, execute { expire = 5s, retries = 3 } }");
        List<String> problems = e.problems();
        assertEquals(3, problems.size(), problems.toString());
        assertTrue(
                problems.stream()
                        .anyMatch(p -> p.startsWith("locking.execute.retries is not a known key; known keys: ")
                                && p.contains("locking.execute.expire, locking.execute.timeout")),
                problems.toString());
        assertTrue(
                problems.stream()
                        .anyMatch(p -> p.startsWith("locking.frobnicate is not a known key; known keys: ")
                                && p.contains("locking.execute.timeout")),
                problems.toString());
        assertTrue(
                problems.contains("locking.renewal_threads is not a known key; did you mean locking.renewal-threads?"),
                problems.toString());
    }

    @Test
    void everyKeyOfTheReferenceAndProviderDefaultsStaysValid() {
        String hocon =
                """
                locking {
                  providers = [{ resolve = "in-memory" }]
                  execute { timeout = 2s, expire = 30s }
                  renewal-threads = 3
                  migrate-on-start = false
                  provider-defaults { in-memory { }, some-other-provider { anything = 1 } }
                }
                application.own.setting = 1
                """;
        try (LockingModule module = LockingModule.create(ConfigFactory.parseString(hocon))) {
            assertEquals("ran", module.execute("k", lock -> "ran"));
        }
        // The whole reference, as ConfigFactory.load() hands it over, is valid too.
        try (LockingModule module =
                LockingModule.create(ConfigFactory.parseString("locking.providers = [{ resolve = \"in-memory\" }]")
                        .withFallback(ConfigFactory.load()))) {
            assertEquals("ran", module.execute("k", lock -> "ran"));
        }
    }
}
