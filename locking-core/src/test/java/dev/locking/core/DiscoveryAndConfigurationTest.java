package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.api.LockingConfigurationException;
import dev.locking.api.UnknownProviderException;
import dev.locking.core.fixtures.AlphaProviderFactory;
import dev.locking.core.fixtures.NoDataSource;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class DiscoveryAndConfigurationTest {

    private static Config conf(String hocon) {
        return ConfigFactory.parseString(hocon);
    }

    private static final String TWO =
            """
            locking.providers = [
              { resolve = "test-alpha", id = "a1", is_default = true }
              { resolve = "test-beta",  id = "b1" }
            ]""";

    private static LockingConfigurationException configError(String hocon) {
        return assertThrows(LockingConfigurationException.class, () -> LockingModule.create(conf(hocon)));
    }

    @Test
    void logsEveryProviderFoundEachRegistrationAndTheDefaultWithItsReason() {
        try (LogCapture log = new LogCapture();
                LockingModule module = LockingModule.create(conf(TWO))) {
            assertTrue(
                    log.has("INFO", "Found locking provider 'in-memory'"),
                    log.lines().toString());
            assertTrue(
                    log.has("INFO", "Found locking provider 'test-alpha' (" + AlphaProviderFactory.class.getName()),
                    log.lines().toString());
            assertTrue(log.has("INFO", "Found locking provider 'test-beta'"));
            assertTrue(log.has("INFO", "Registered locking provider lp_a1 (test-alpha)"));
            assertTrue(log.has("INFO", "Registered locking provider lp_b1 (test-beta)"));
            assertTrue(
                    log.has("INFO", "Default locking provider: lp_a1 (is_default = true)"),
                    log.lines().toString());
            assertEquals(
                    List.of("in-memory", "test-alpha", "test-beta", "test-scripted"),
                    module.foundProviders().stream()
                            .map(FoundProvider::identifier)
                            .sorted()
                            .toList());
        }
    }

    @Test
    void aBrokenProviderJarIsReportedAndTheOthersStillWork() {
        try (LogCapture log = new LogCapture();
                LockingModule module = LockingModule.create(conf(TWO))) {
            assertTrue(
                    log.has("ERROR", "A locking provider jar is broken and was skipped"),
                    log.lines().toString());
            assertTrue(
                    log.lines().stream().anyMatch(l -> l.contains("BrokenProviderFactory")),
                    log.lines().toString());
            assertTrue(
                    log.lines().stream().anyMatch(l -> l.contains("MissingProviderFactory")),
                    log.lines().toString());
            module.acquire("k", LockOptions.defaults().owner("o"));
            assertTrue(module.release("k", LockOptions.defaults().owner("o")));
        }
    }

    @Test
    void theOnlyRegisteredProviderIsTheDefault() {
        try (LockingModule module = LockingModule.create(conf("locking.providers = [{ resolve = test-beta }]"))) {
            ProviderInfo info = module.providers().get(0);
            assertEquals(
                    new ProviderInfo(
                            "test-beta",
                            "lp_test-beta",
                            "test-beta",
                            "test-beta",
                            true,
                            "the only registered provider"),
                    info);
            assertEquals("lp_test-beta", module.acquire("k").provider());
        }
    }

    @Test
    void noProvidersMeansInMemoryAloneWithAWarning() {
        try (LogCapture log = new LogCapture();
                LockingModule module = LockingModule.create(ConfigFactory.empty())) {
            assertTrue(
                    log.has("WARN", "its locks do not cross processes"),
                    log.lines().toString());
            assertEquals(1, module.providers().size());
            ProviderInfo info = module.providers().get(0);
            assertEquals("lp_in-memory", info.address());
            assertTrue(info.isDefault());
            assertEquals("lp_in-memory", module.acquire("k").provider());
        }
    }

    @Test
    void anEmptyProvidersListIsTreatedAsNone() {
        try (LockingModule module = LockingModule.create(conf("locking.providers = []"))) {
            assertEquals("in-memory", module.providers().get(0).identifier());
        }
    }

    @Test
    void anUnknownResolveListsTheIdentifiersFound() {
        LockingConfigurationException e = configError("locking.providers = [{ resolve = locking-postgress }]");
        assertTrue(e.getMessage().contains("locking.providers[0].resolve = \"locking-postgress\""), e.getMessage());
        assertTrue(e.getMessage().contains("found: "), e.getMessage());
        for (String found : List.of("in-memory", "test-alpha", "test-beta"))
            assertTrue(e.getMessage().contains(found), e.getMessage());
    }

    @Test
    void twoDefaultsAreAnErrorNamingBoth() {
        LockingConfigurationException e = configError(
                """
                locking.providers = [
                  { resolve = test-alpha, id = a1, is_default = true }
                  { resolve = test-beta, id = b1, is_default = true }
                ]""");
        assertTrue(
                e.getMessage().contains("several registrations with is_default = true: lp_a1, lp_b1"), e.getMessage());
    }

    @Test
    void severalProvidersAndNoDefaultIsAnErrorNamingThem() {
        LockingConfigurationException e = configError(
                """
                locking.providers = [{ resolve = test-alpha }, { resolve = test-beta }]""");
        assertTrue(
                e.getMessage().contains("registers lp_test-alpha, lp_test-beta and none has is_default = true"),
                e.getMessage());
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        LockingConfigurationException e = configError(
                """
                locking.execute.timeout = -1s
                locking.execute.expire = banana
                locking.providers = [
                  { resolve = test-alpha, id = same }
                  { resolve = test-beta, id = same, isDefault = true }
                  { id = x }
                  "not an object"
                  { resolve = nope, is_default = maybe }
                ]""");
        List<String> p = e.problems();
        assertTrue(
                p.stream().anyMatch(s -> s.startsWith("locking.execute.timeout must be zero or positive")),
                p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("locking.execute.expire must be a duration")), p.toString());
        assertTrue(
                p.stream().anyMatch(s -> s.contains("locking.providers[1].id = \"same\" is a duplicate")),
                p.toString());
        assertTrue(
                p.stream()
                        .anyMatch(
                                s -> s.contains(
                                        "locking.providers[1] has unknown keys [isDefault]; allowed: resolve, id, is_default (or is-default), options")),
                p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("locking.providers[2].resolve is missing")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.contains("locking.providers[3] must be an object")), p.toString());
        assertTrue(
                p.stream().anyMatch(s -> s.contains("locking.providers[4].is_default must be true or false")),
                p.toString());
        assertTrue(e.getMessage().startsWith("Invalid locking configuration (" + p.size() + " problems):"));
    }

    @Test
    void aDataSourceForARegistrationTheConfigurationLacksIsLoggedAndNotUsed() {
        try (LogCapture log = new LogCapture();
                LockingModule module = LockingModule.builder()
                        .config(conf(TWO))
                        .dataSource("postgres-lock", new NoDataSource())
                        .build()) {
            assertTrue(
                    log.has(
                            "INFO",
                            "dataSource(\"postgres-lock\", ...) names no registration, so it is not used;"
                                    + " registered: lp_a1, lp_b1"),
                    log.lines().toString());
            module.acquire("k", LockOptions.defaults().owner("o"));
            assertTrue(module.release("k", LockOptions.defaults().owner("o")));
        }
    }

    @Test
    void isDefaultIsAcceptedInSpringsSpellingToo() {
        try (LockingModule module = LockingModule.create(
                conf(
                        """
                locking.providers = [
                  { resolve = test-alpha, id = a1 }
                  { resolve = test-beta,  id = b1, is-default = true }
                ]"""))) {
            assertEquals(
                    "lp_b1",
                    module.providers().stream()
                            .filter(ProviderInfo::isDefault)
                            .findFirst()
                            .orElseThrow()
                            .address());
        }
    }

    @Test
    void bothSpellingsOnOneRegistrationMustAgree() {
        LockingConfigurationException e = configError(
                """
                locking.providers = [
                  { resolve = test-alpha, id = a1, is_default = true, is-default = false }
                  { resolve = test-beta,  id = b1, is_default = true, is-default = true }
                ]""");
        assertTrue(
                e.problems()
                        .contains("locking.providers[0].is_default = true and locking.providers[0].is-default = false"
                                + " disagree; set one of them"),
                e.problems().toString());
        assertEquals(1, e.problems().size(), e.problems().toString());
    }

    @Test
    void aDataSourceReachesItsRegistrationUnderAnyNameForm() {
        NoDataSource ds = new NoDataSource();
        AlphaProviderFactory.CREATED.clear();
        try (LockingModule ignored = LockingModule.builder()
                .config(conf(TWO))
                .dataSource("test-alpha", ds)
                .build()) {
            assertEquals(1, AlphaProviderFactory.CREATED.size());
            assertEquals("a1", AlphaProviderFactory.CREATED.get(0).registrationId());
            assertEquals(ds, AlphaProviderFactory.CREATED.get(0).dataSource().orElseThrow());
            assertEquals(
                    "locking.providers[0].options",
                    AlphaProviderFactory.CREATED.get(0).optionsPath());
        }
    }

    @Test
    void callsRouteByEveryAcceptedFormOfProviderId() {
        try (LockingModule module = LockingModule.create(conf(TWO))) {
            for (String name : List.of("lp_b1", "b1", "lp_test-beta", "test-beta")) {
                LockOptions inBeta = LockOptions.defaults().owner("o").provider(name);
                assertEquals("lp_b1", module.acquire("k-" + name, inBeta).provider(), name);
                assertEquals("lp_b1", module.providerFor(inBeta).address(), name);
                // Held in beta, not in alpha (the default): alpha can take the same key.
                module.acquire("k-" + name, LockOptions.defaults().owner("other"));
                assertThrows(
                        LockAcquisitionException.class,
                        () -> module.acquire(
                                "k-" + name,
                                LockOptions.defaults().owner("other").provider("lp_b1")));
                assertTrue(module.release(
                        "k-" + name, LockOptions.defaults().owner("o").provider("b1")));
            }
            assertEquals("lp_a1", module.acquire("x").provider());
            assertEquals("lp_a1", module.providerFor(LockOptions.defaults()).address());
            assertThrows(
                    UnknownProviderException.class,
                    () -> module.providerFor(LockOptions.defaults().provider("lp_x")));
        }
    }

    @Test
    void anIdentifierTwoRegistrationsShareIsNotARoute() {
        try (LockingModule module = LockingModule.create(
                conf(
                        """
                locking.providers = [
                  { resolve = test-alpha, id = one, is_default = true }
                  { resolve = test-alpha, id = two }
                ]"""))) {
            UnknownProviderException e = assertThrows(
                    UnknownProviderException.class,
                    () -> module.acquire("k", LockOptions.defaults().provider("lp_test-alpha")));
            assertTrue(e.getMessage().contains("lp_one (test-alpha), lp_two (test-alpha)"), e.getMessage());
            assertEquals(List.of("lp_one (test-alpha)", "lp_two (test-alpha)"), e.registered());
            assertEquals(
                    "lp_two",
                    module.acquire("k", LockOptions.defaults().provider("two")).provider());
        }
    }

    @Test
    void providerOptionsAreValidatedByTheProviderWithTheirFullPath() {
        LockingConfigurationException e =
                configError("""
                locking.providers = [{ resolve = in-memory, options { size = 3 } }]""");
        assertTrue(e.getMessage().contains("locking.providers[0].options has keys [size]"), e.getMessage());
    }

    @Test
    void executeDefaultsComeFromConfiguration() {
        try (LockingModule module = LockingModule.create(conf(
                """
                locking.execute.timeout = 200ms
                locking.execute.expire = 90s"""))) {
            module.acquire("k", LockOptions.defaults().owner("holder"));
            long start = System.nanoTime();
            assertThrows(LockTimeoutException.class, () -> module.execute("k", lock -> null));
            long took = Duration.ofNanos(System.nanoTime() - start).toMillis();
            assertTrue(took >= 200 && took < 4000, "waited " + took + " ms, configured 200 ms (default is 5 s)");
        }
    }

    @Test
    void migrateOnStartAndMigrateReportPerRegistration() {
        try (LockingModule module = LockingModule.create(conf(TWO + "\nlocking.migrate-on-start = true"))) {
            assertEquals(
                    List.of("lp_a1", "lp_b1"), List.copyOf(module.migrations().keySet()));
            assertTrue(module.migrations().values().stream().allMatch(List::isEmpty), "nothing to migrate in memory");
        }
    }

    @Test
    void aClosedModuleRefusesCalls() {
        LockingModule module = LockingModule.create(conf(TWO));
        module.close();
        module.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> module.acquire("k"));
        assertTrue(e.getMessage().contains("closed"));
        assertFalse(module.toString().contains("password"));
    }
}
