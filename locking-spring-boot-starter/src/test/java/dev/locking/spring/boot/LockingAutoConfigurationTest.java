package dev.locking.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingService;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import dev.locking.core.RunOncePerTick;
import dev.locking.micrometer.LockingMetrics;
import dev.locking.testkit.servers.PostgresServer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.boot.health.contributor.CompositeHealthContributor;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.jdbc.datasource.DriverManagerDataSource;

class LockingAutoConfigurationTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    LockingAutoConfiguration.class,
                    LockingHealthAutoConfiguration.class,
                    LockingBoot3HealthAutoConfiguration.class,
                    LockingMetricsAutoConfiguration.class));

    private static String defaultOf(LockingModule module) {
        return module.providers().stream()
                .filter(ProviderInfo::isDefault)
                .findFirst()
                .orElseThrow()
                .address();
    }

    private static final String[] TWO_IN_MEMORY = {
        "locking.providers[0].resolve=in-memory",
        "locking.providers[0].id=a",
        "locking.providers[1].resolve=in-memory",
        "locking.providers[1].id=b"
    };

    private static String[] twoWith(String... more) {
        String[] all = Arrays.copyOf(TWO_IN_MEMORY, TWO_IN_MEMORY.length + more.length);
        System.arraycopy(more, 0, all, TWO_IN_MEMORY.length, more.length);
        return all;
    }

    @Test
    void isDefaultBindsInEverySpellingSpringAccepts() {
        for (String flag : List.of("is-default", "is_default", "isDefault"))
            runner.withPropertyValues(twoWith("locking.providers[1]." + flag + "=true"))
                    .run(context -> assertEquals("lp_b", defaultOf(context.getBean(LockingModule.class)), flag));
    }

    @Test
    void environmentVariablesConfigureTheModule() {
        runner.withInitializer(context -> context.getEnvironment()
                        .getPropertySources()
                        .addFirst(new SystemEnvironmentPropertySource(
                                "test-systemEnvironment",
                                Map.of(
                                        "LOCKING_PROVIDERS_0_RESOLVE", "in-memory",
                                        "LOCKING_PROVIDERS_0_ID", "a",
                                        "LOCKING_PROVIDERS_1_RESOLVE", "in-memory",
                                        "LOCKING_PROVIDERS_1_ID", "b",
                                        "LOCKING_PROVIDERS_1_ISDEFAULT", "true"))))
                .run(context -> assertEquals("lp_b", defaultOf(context.getBean(LockingModule.class))));
    }

    @Test
    void withoutLockingPropertiesApplicationConfStillConfiguresTheModule() {
        runner.run(context -> assertEquals("lp_from-hocon", defaultOf(context.getBean(LockingModule.class))));
    }

    @Test
    void springPropertiesWinOverApplicationConf() {
        runner.withPropertyValues("locking.providers[0].resolve=in-memory", "locking.providers[0].id=from-spring")
                .run(context -> assertEquals(
                        List.of("lp_from-spring"),
                        context.getBean(LockingModule.class).providers().stream()
                                .map(ProviderInfo::address)
                                .toList()));
    }

    @Test
    void indexedOptionsBecomeHoconListsAndDurationsKeepTheirValue() {
        Binder binder = new Binder(new MapConfigurationPropertySource(Map.of(
                "locking.providers[0].resolve", "locking-redis",
                "locking.providers[0].options.cluster-nodes[0]", "10.0.0.1:6379",
                "locking.providers[0].options.cluster-nodes[1]", "10.0.0.2:6379",
                "locking.providers[0].options.pool.max-total", "8",
                "locking.execute.timeout", "1500ms",
                "locking.execute.expire", "PT2M")));
        LockingProperties properties =
                binder.bind("locking", LockingProperties.class).get();

        var config = LockingConfigTree.of(properties, ConfigFactory.empty());
        var options = config.getConfigList("locking.providers").get(0).getConfig("options");
        assertEquals(List.of("10.0.0.1:6379", "10.0.0.2:6379"), options.getStringList("cluster-nodes"));
        assertEquals(8, options.getInt("pool.max-total"));
        assertEquals(1500, config.getDuration("locking.execute.timeout").toMillis());
        assertEquals(120, config.getDuration("locking.execute.expire").toSeconds());
    }

    @Test
    void theModuleIsTheLockingServiceAndClosesWithTheContext() {
        LockingModule[] seen = new LockingModule[1];
        runner.run(context -> {
            seen[0] = context.getBean(LockingModule.class);
            assertSame(seen[0], context.getBean(LockingService.class));
            assertTrue(context.containsBean("runOncePerTick"));
            assertTrue(context.getBean(RunOncePerTick.class) != null);
        });
        assertThrows(IllegalStateException.class, () -> seen[0].acquire("k"));
    }

    @Test
    void runOncePerTickClosesBeforeTheModuleWithTheShutdownTimeout() {
        runner.withPropertyValues("locking.shutdown-timeout=7s").run(context -> {
            var closing = context.getBean(LockingAutoConfiguration.RunOncePerTickClosing.class);
            assertEquals(java.time.Duration.ofSeconds(7), closing.drain());
            assertTrue(Arrays.asList(context.getBeanFactory().getDependenciesForBean("lockingRunOncePerTickClosing"))
                    .contains("runOncePerTick"));
        });
    }

    private static String startFailure(ApplicationContextRunner runner) {
        String[] message = new String[1];
        runner.run(context -> {
            StringBuilder all = new StringBuilder();
            for (Throwable t = context.getStartupFailure(); t != null; t = t.getCause())
                all.append(t.getMessage()).append('\n');
            message[0] = all.toString();
        });
        return message[0];
    }

    @Test
    void aPostgresRegistrationWithoutUrlAndNoSingleDataSourceFailsNamingTheWayOut() {
        ApplicationContextRunner pg = runner.withPropertyValues(
                "locking.providers[0].resolve=locking-postgres", "locking.providers[0].id=pg");
        String none = startFailure(pg);
        assertTrue(none.contains("[pg] set no options.url") && none.contains("has no DataSource bean"), none);

        String two = startFailure(pg.withBean("orders", DataSource.class, DriverManagerDataSource::new)
                .withBean("reports", DataSource.class, DriverManagerDataSource::new));
        assertTrue(two.contains("several [orders, reports] and none is @Primary"), two);
    }

    @Test
    void anApplicationsOwnLockingServiceReplacesTheModule() {
        LockingModule own = LockingModule.create(
                ConfigFactory.parseString("locking.providers = [{ resolve = in-memory, id = own }]"));
        try {
            runner.withBean("myLocking", LockingService.class, () -> own).run(context -> {
                assertFalse(context.containsBean(LockingAutoConfiguration.MODULE_BEAN));
                assertSame(own, context.getBean(LockingService.class));
                assertFalse(context.containsBean("lockingHealthContributor"), "health needs a LockingModule bean");
            });
        } finally {
            own.close();
        }
    }

    @Test
    void theHealthContributorHasOneUpComponentPerRegistration() {
        runner.withPropertyValues(twoWith("locking.providers[0].is-default=true"))
                .run(context -> {
                    CompositeHealthContributor locking =
                            context.getBean("lockingHealthContributor", CompositeHealthContributor.class);
                    for (String id : List.of("a", "b")) {
                        Health health = ((HealthIndicator) locking.getContributor(id)).health();
                        assertEquals(Status.UP, health.getStatus(), id + ": " + health);
                        assertEquals("in-memory", health.getDetails().get("provider"));
                    }
                    assertEquals(
                            true,
                            ((HealthIndicator) locking.getContributor("a"))
                                    .health()
                                    .getDetails()
                                    .get("default"));
                    // The check leaves nothing behind.
                    LockingModule module = context.getBean(LockingModule.class);
                    assertEquals(List.of(), module.locks(LockOptions.defaults().provider("a"), 10));
                });
    }

    @Test
    void anUnreachableStoreIsDownWithItsErrorAndNoSecretReachesTheDetailsOrTheLog() {
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(log);
        try {
            runner.withPropertyValues(
                            "locking.providers[0].resolve=locking-postgres",
                            "locking.providers[0].id=pg",
                            "locking.providers[0].is-default=true",
                            // The same password in the URL and as an option (two different ones are refused).
                            "locking.providers[0].options.url=jdbc:postgresql://127.0.0.1:1/nowhere?password=s3cret-pg",
                            "locking.providers[0].options.user=app",
                            "locking.providers[0].options.password=s3cret-pg",
                            "locking.providers[0].options.notifications=poll",
                            "locking.providers[0].options.pool.connectionTimeout=250",
                            "locking.providers[1].resolve=locking-redis",
                            "locking.providers[1].id=redis",
                            "locking.providers[1].options.url=redis://app:s3cret-redis@127.0.0.1:1",
                            "locking.providers[1].options.connect-timeout=250ms")
                    .run(context -> {
                        CompositeHealthContributor locking =
                                context.getBean("lockingHealthContributor", CompositeHealthContributor.class);
                        for (String id : List.of("pg", "redis")) {
                            Health health = ((HealthIndicator) locking.getContributor(id)).health();
                            assertEquals(Status.DOWN, health.getStatus(), health.toString());
                            String error = String.valueOf(health.getDetails().get("error"));
                            assertTrue(error.contains("lp_" + id), error);
                            assertFalse(error.contains("s3cret"), error);
                        }
                    });
        } finally {
            root.detachAppender(log);
        }
        for (ILoggingEvent event : log.list) {
            StringBuilder text = new StringBuilder(event.getFormattedMessage());
            for (IThrowableProxy t = event.getThrowableProxy(); t != null; t = t.getCause())
                text.append('\n').append(t.getMessage());
            assertFalse(text.toString().contains("s3cret"), text.toString());
        }
    }

    @Test
    void healthChecksStayOutOfTheApplicationsLockMetrics() {
        runner.withConfiguration(AutoConfigurations.of(
                        org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration.class,
                        org.springframework.boot.micrometer.metrics.autoconfigure
                                .CompositeMeterRegistryAutoConfiguration.class,
                        org.springframework.boot.micrometer.metrics.autoconfigure.export.simple
                                .SimpleMetricsExportAutoConfiguration.class))
                .run(context -> {
                    HealthIndicator check = (HealthIndicator)
                            context.getBean("lockingHealthContributor", CompositeHealthContributor.class)
                                    .getContributor("from-hocon");
                    for (int i = 0; i < 3; i++)
                        assertEquals(Status.UP, check.health().getStatus());
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    assertEquals(
                            0,
                            registry.get("locking.acquire")
                                    .tags("provider", "lp_from-hocon", "outcome", "acquired")
                                    .timer()
                                    .count());
                    assertEquals(
                            0,
                            registry.get("locking.held")
                                    .tags("provider", "lp_from-hocon")
                                    .timer()
                                    .count());
                });
    }

    @Test
    void theBoot3HealthConfigurationStaysOffOnBoot4() {
        runner.run(context ->
                assertTrue(context.getBeansOfType(org.springframework.boot.actuate.health.HealthContributor.class)
                        .isEmpty()));
    }

    @Test
    void healthCanBeSwitchedOff() {
        runner.withPropertyValues("management.health.locking.enabled=false")
                .run(context -> assertFalse(context.containsBean("lockingHealthContributor")));
    }

    @Test
    void managementHealthDefaultsEnabledFalseSwitchesHealthOffUnlessLockingIsOnByName() {
        runner.withPropertyValues("management.health.defaults.enabled=false")
                .run(context -> assertFalse(context.containsBean("lockingHealthContributor")));
        runner.withPropertyValues("management.health.defaults.enabled=false", "management.health.locking.enabled=true")
                .run(context -> assertTrue(context.containsBean("lockingHealthContributor")));
    }

    @Test
    void withoutAMeterRegistryThereIsNoMetricsBean() {
        runner.run(context -> {
            assertTrue(context.getBeansOfType(MeterRegistry.class).isEmpty());
            assertFalse(context.containsBean("lockingMetrics"));
            assertTrue(context.getBeansOfType(LockingMetrics.class).isEmpty());
        });
    }

    @Test
    void aMeterRegistryOfTheApplicationsOwnBringsTheMetricsBean() {
        runner.withBean(SimpleMeterRegistry.class).run(context -> assertTrue(context.containsBean("lockingMetrics")));
    }

    /**
     * Boot's registries come from auto-configuration too; the condition sees them only because the
     * starter's metrics configuration is ordered after Boot's (else, sorted by name, it would come
     * first and find no registry).
     */
    @Test
    void theMetricsBinderIsABeanAndItsMetersReachTheApplicationsRegistry() {
        runner.withConfiguration(AutoConfigurations.of(
                        org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration.class,
                        org.springframework.boot.micrometer.metrics.autoconfigure
                                .CompositeMeterRegistryAutoConfiguration.class,
                        org.springframework.boot.micrometer.metrics.autoconfigure.export.simple
                                .SimpleMetricsExportAutoConfiguration.class))
                .run(context -> {
                    assertTrue(context.containsBean("lockingMetrics"));
                    context.getBean(LockingModule.class).execute("k", lock -> null);
                    MeterRegistry registry = context.getBean(MeterRegistry.class);
                    assertEquals(
                            1,
                            registry.get("locking.acquire")
                                    .tags("provider", "lp_from-hocon", "outcome", "acquired")
                                    .timer()
                                    .count());
                    assertTrue(context.getBean(LockingMetrics.class) != null);
                });
    }

    @Test
    void aPostgresRegistrationWithoutUrlUsesTheApplicationsDataSourceAndStartsAfterItsFlyway() {
        PostgresServer pg = PostgresServer.shared();
        String schema = pg.newSchema("starter");
        runner.withConfiguration(AutoConfigurations.of(
                        org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration.class,
                        org.springframework.boot.flyway.autoconfigure.FlywayAutoConfiguration.class))
                .withPropertyValues(
                        "spring.datasource.url=" + pg.jdbcUrl() + "?currentSchema=" + schema,
                        "spring.datasource.username=" + pg.user(),
                        "spring.flyway.schemas=" + schema,
                        "spring.flyway.locations=classpath:db/app",
                        "locking.providers[0].resolve=locking-postgres",
                        "locking.providers[0].id=pg",
                        "locking.providers[0].options.schema=" + schema,
                        "locking.migrate-on-start=true")
                .run(context -> {
                    assertTrue(
                            Arrays.asList(context.getBeanFactory()
                                            .getBeanDefinition(LockingAutoConfiguration.MODULE_BEAN)
                                            .getDependsOn())
                                    .contains("flywayInitializer"),
                            "the module waits for the application's Flyway");
                    LockingModule module = context.getBean(LockingModule.class);
                    module.acquire("prod_123", LockOptions.defaults().owner("a"));
                    var rows = context.getBean(javax.sql.DataSource.class)
                            .getConnection()
                            .createStatement()
                            .executeQuery("SELECT count(*) FROM " + schema + ".locking");
                    rows.next();
                    assertEquals(1, rows.getInt(1), "the lock is in the application's database");
                    assertTrue(module.release("prod_123", LockOptions.defaults().owner("a")));
                });
    }
}
