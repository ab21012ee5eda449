package dev.locking.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.core.LockingModule;
import dev.locking.micrometer.LockingMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.actuate.health.CompositeHealthContributor;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;

/** The starter on Spring Boot 3.5 (Spring Framework 6.2), whose health API is not Boot 4's. */
class Boot3StarterTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    LockingAutoConfiguration.class,
                    LockingHealthAutoConfiguration.class,
                    LockingBoot3HealthAutoConfiguration.class,
                    LockingMetricsAutoConfiguration.class))
            .withPropertyValues(
                    "locking.providers[0].resolve=in-memory",
                    "locking.providers[0].id=a",
                    "locking.providers[0].is-default=true",
                    "locking.providers[1].resolve=in-memory",
                    "locking.providers[1].id=b");

    @Test
    void runsOnSpringBoot35() {
        assertTrue(SpringBootVersion.getVersion().startsWith("3.5."), SpringBootVersion.getVersion());
    }

    @Test
    void theHealthContributorHasOneUpComponentPerRegistration() {
        runner.run(context -> {
            CompositeHealthContributor locking =
                    context.getBean("lockingHealthContributor", CompositeHealthContributor.class);
            for (String id : List.of("a", "b")) {
                Health health = ((HealthIndicator) locking.getContributor(id)).health();
                assertEquals(Status.UP, health.getStatus(), id + ": " + health);
                assertEquals("in-memory", health.getDetails().get("provider"));
            }
        });
    }

    @Test
    void managementHealthLockingEnabledFalseSwitchesHealthOff() {
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
    void metersReachBootsRegistry() {
        runner.withConfiguration(AutoConfigurations.of(
                        MetricsAutoConfiguration.class,
                        CompositeMeterRegistryAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class))
                .run(context -> {
                    assertTrue(context.containsBean("lockingMetrics"));
                    context.getBean(LockingModule.class).execute("k", lock -> null);
                    assertEquals(
                            1,
                            context.getBean(MeterRegistry.class)
                                    .get("locking.acquire")
                                    .tags("provider", "lp_a", "outcome", "acquired")
                                    .timer()
                                    .count());
                });
    }

    @Test
    void withoutAMeterRegistryThereIsNoMetricsBean() {
        runner.run(context ->
                assertTrue(context.getBeansOfType(LockingMetrics.class).isEmpty()));
    }

    static class Report {
        private final AtomicInteger runs = new AtomicInteger();

        /** Through the proxy: its own fields are empty. */
        int runs() {
            return runs.get();
        }

        @Scheduled(fixedRate = 20)
        @LockedTick(name = "boot3-report", lockAtMostFor = "1m", lockAtLeastFor = "1m")
        void send() {
            runs.incrementAndGet();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableScheduling
    static class ReportJob {
        @Bean
        Report report() {
            return new Report();
        }
    }

    @Test
    void aLockedTickRunsOnceUnderSpring62sScheduler() {
        runner.withUserConfiguration(ReportJob.class).run(context -> {
            Report report = context.getBean(Report.class);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (report.runs() == 0 && System.nanoTime() < deadline) Thread.sleep(10);
            Thread.sleep(300); // about 15 more ticks, each skipped: lockAtLeastFor holds the key
            assertEquals(1, report.runs());
        });
    }
}
