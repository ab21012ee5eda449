package dev.locking.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingListener;
import dev.locking.core.LockingModule;
import dev.locking.core.RunOncePerTick;
import dev.locking.testkit.servers.PostgresServer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.aop.support.AopUtils;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.EnableScheduling;
import org.springframework.scheduling.annotation.Scheduled;

/**
 * {@code @LockedTick}: two application instances, each its own Spring context and its own module,
 * on one PostgreSQL schema, as two replicas of a service are.
 */
class LockedTickTest {
    private static final PostgresServer PG = PostgresServer.shared();

    /** An instance of the application on the schema, counting the runs of its job in {@code runs}. */
    private static ApplicationContextRunner instance(String schema, AtomicInteger runs, Class<?>... jobs) {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LockingAutoConfiguration.class))
                .withUserConfiguration(jobs)
                .withBean("runs", AtomicInteger.class, () -> runs)
                .withPropertyValues(
                        "locking.providers[0].resolve=locking-postgres",
                        "locking.providers[0].id=pg",
                        "locking.providers[0].options.url=" + PG.jdbcUrl(),
                        "locking.providers[0].options.user=" + PG.user(),
                        "locking.providers[0].options.schema=" + schema,
                        "locking.migrate-on-start=true",
                        "report.at-least=1m");
    }

    static class Report {
        final AtomicInteger runs;

        Report(AtomicInteger runs) {
            this.runs = runs;
        }

        @LockedTick(name = "report", lockAtMostFor = "2m", lockAtLeastFor = "${report.at-least}")
        void send() {
            runs.incrementAndGet();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class ReportJob {
        @Bean
        Report report(AtomicInteger runs) {
            return new Report(runs);
        }
    }

    @Test
    void aSecondInstanceOnTheSameStoreSkipsTheTick() {
        String schema = PG.newSchema("tick");
        AtomicInteger runs = new AtomicInteger();
        instance(schema, runs, ReportJob.class)
                .run(first -> instance(schema, runs, ReportJob.class).run(second -> {
                    assertTrue(AopUtils.isAopProxy(first.getBean(Report.class)));
                    first.getBean(Report.class).send();
                    assertEquals(1, runs.get(), "the first instance ran the tick");
                    second.getBean(Report.class).send();
                    assertEquals(1, runs.get(), "the second instance skipped it");
                    first.getBean(Report.class).send();
                    assertEquals(1, runs.get(), "lockAtLeastFor keeps the key after the run, on the first too");
                    assertEquals(
                            RunOncePerTick.KEY_PREFIX + "report",
                            first.getBean(LockingModule.class)
                                    .locks(LockOptions.defaults(), 10)
                                    .get(0)
                                    .key());
                }));
    }

    @Test
    void withoutLockAtLeastTheKeyIsFreeAgainWhenTheMethodReturns() {
        String schema = PG.newSchema("tick");
        AtomicInteger runs = new AtomicInteger();
        instance(schema, runs, ReportJob.class)
                .withPropertyValues("report.at-least=0s")
                .run(first -> instance(schema, runs, ReportJob.class)
                        .withPropertyValues("report.at-least=0s")
                        .run(second -> {
                            first.getBean(Report.class).send();
                            second.getBean(Report.class).send();
                            assertEquals(2, runs.get());
                            assertEquals(
                                    0,
                                    first.getBean(LockingModule.class)
                                            .locks(LockOptions.defaults(), 10)
                                            .size());
                        }));
    }

    static class ScheduledReport {
        final AtomicInteger runs;

        ScheduledReport(AtomicInteger runs) {
            this.runs = runs;
        }

        @Scheduled(fixedRate = 50)
        @LockedTick(name = "scheduled-report", lockAtMostFor = "10m", lockAtLeastFor = "10m")
        void send() {
            runs.incrementAndGet();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableScheduling
    static class ScheduledReportJob {
        @Bean
        ScheduledReport scheduledReport(AtomicInteger runs) {
            return new ScheduledReport(runs);
        }
    }

    /** Counts the calls of a module that found the key taken. */
    private static AtomicInteger skips(ApplicationContext context) {
        AtomicInteger busy = new AtomicInteger();
        context.getBean(LockingModule.class).addListener(new LockingListener() {
            @Override
            public void acquireEnded(String provider, Outcome outcome, long nanos) {
                if (outcome == Outcome.BUSY) busy.incrementAndGet();
            }
        });
        return busy;
    }

    @Test
    void theSchedulersOfTwoInstancesRunTheTickOnce() {
        String schema = PG.newSchema("tick");
        AtomicInteger runs = new AtomicInteger();
        instance(schema, runs, ScheduledReportJob.class)
                .run(first -> instance(schema, runs, ScheduledReportJob.class).run(second -> {
                    AtomicInteger firstSkipped = skips(first);
                    AtomicInteger secondSkipped = skips(second);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while ((firstSkipped.get() < 5 || secondSkipped.get() < 5) && System.nanoTime() < deadline)
                        Thread.sleep(20);
                    assertTrue(
                            firstSkipped.get() >= 5 && secondSkipped.get() >= 5,
                            "both schedulers fired and skipped: " + firstSkipped + ", " + secondSkipped);
                    assertEquals(1, runs.get(), "one run across both instances");
                }));
    }

    static class FrequentReport {
        final AtomicInteger runs;

        FrequentReport(AtomicInteger runs) {
            this.runs = runs;
        }

        @Scheduled(fixedRate = 5)
        @LockedTick(name = "frequent-report", lockAtMostFor = "1m")
        void send() {
            runs.incrementAndGet();
        }
    }

    @Configuration(proxyBeanMethods = false)
    @EnableScheduling
    static class FrequentReportJob {
        @Bean
        FrequentReport frequentReport(AtomicInteger runs) {
            return new FrequentReport(runs);
        }
    }

    @Test
    void closingTheApplicationStopsItsTicksBeforeTheModuleCloses() throws Exception {
        String schema = PG.newSchema("tick");
        AtomicInteger runs = new AtomicInteger();
        ListAppender<ILoggingEvent> errors = new ListAppender<>();
        errors.start();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(errors);
        try {
            instance(schema, runs, FrequentReportJob.class).run(context -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (runs.get() < 20 && System.nanoTime() < deadline) Thread.sleep(5);
                assertTrue(runs.get() >= 20, "ran " + runs);
            });
            Thread.sleep(200);
        } finally {
            root.detachAppender(errors);
        }
        List<String> failures = errors.list.stream()
                .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(e -> e.getFormattedMessage()
                        + (e.getThrowableProxy() == null
                                ? ""
                                : ": " + e.getThrowableProxy().getMessage()))
                .toList();
        assertEquals(List.of(), failures, "no tick ran into a closed module");
    }

    static class FailingReport {
        @LockedTick(name = "failing", lockAtMostFor = "1m", lockAtLeastFor = "1m")
        void send() throws java.io.IOException {
            throw new java.io.IOException("mail server down");
        }
    }

    @Test
    void whatTheMethodThrowsReachesTheCallerAndTheTickStaysTaken() {
        String schema = PG.newSchema("tick");
        instance(schema, new AtomicInteger()).withBean(FailingReport.class).run(context -> {
            FailingReport report = context.getBean(FailingReport.class);
            java.io.IOException thrown = assertThrows(java.io.IOException.class, report::send);
            assertEquals("mail server down", thrown.getMessage());
            // The second call is skipped: it returns without reaching the method.
            report.send();
        });
    }

    static class AtLeastOverAtMost {
        @LockedTick(name = "x", lockAtMostFor = "10s", lockAtLeastFor = "1m")
        void send() {}
    }

    static class ReturnsAValue {
        @LockedTick(name = "x", lockAtMostFor = "10s")
        int send() {
            return 1;
        }
    }

    static class NotADuration {
        @LockedTick(name = "x", lockAtMostFor = "ten minutes")
        void send() {}
    }

    static class UnknownProvider {
        @LockedTick(name = "x", lockAtMostFor = "10s", provider = "lp_nowhere")
        void send() {}
    }

    private static String startFailure(Class<?> bean) {
        String[] message = new String[1];
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LockingAutoConfiguration.class))
                .withBean(bean)
                .run(context -> {
                    assertTrue(context.getStartupFailure() != null, "the start fails");
                    StringBuilder all = new StringBuilder();
                    for (Throwable t = context.getStartupFailure(); t != null; t = t.getCause())
                        all.append(t.getMessage()).append('\n');
                    message[0] = all.toString();
                });
        return message[0];
    }

    @Test
    void badAttributesStopTheStartNamingTheMethodAndTheAttribute() {
        String atLeast = startFailure(AtLeastOverAtMost.class);
        assertTrue(atLeast.contains("AtLeastOverAtMost.send"), atLeast);
        assertTrue(atLeast.contains("lockAtLeastFor (PT1M) must not be longer than lockAtMostFor (PT10S)"), atLeast);

        String value = startFailure(ReturnsAValue.class);
        assertTrue(value.contains("ReturnsAValue.send") && value.contains("must return void"), value);

        String duration = startFailure(NotADuration.class);
        assertTrue(duration.contains("lockAtMostFor \"ten minutes\" is not a duration"), duration);

        String provider = startFailure(UnknownProvider.class);
        assertTrue(provider.contains("UnknownProvider.send") && provider.contains("lp_nowhere"), provider);
    }

    @Test
    void beansWithoutTheAnnotationAreNotProxied() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LockingAutoConfiguration.class))
                .withBean(StringBuilder.class)
                .withBean(FailingReport.class)
                .run(context -> {
                    assertFalse(AopUtils.isAopProxy(context.getBean(StringBuilder.class)));
                    assertTrue(AopUtils.isAopProxy(context.getBean(FailingReport.class)), "the annotated one is");
                });
    }
}
