package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PrivatePostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * A storm on one key: far more callers than connections, each with a short timeout, against a
 * private server (the load would disturb tests sharing a server).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PostgresStormTest {
    private static final int CALLERS = 1000;
    private static final Duration TIMEOUT = Duration.ofSeconds(1);

    /** What one caller saw: its exception's class (or "acquired"), and how late it returned. */
    private record Outcome(String what, long lateMillis) {}

    /** Adds the options of the mode under test to {@code options}; table mode needs none. */
    void configure(Map<String, Object> options) {}

    @Test
    @DisplayName("a storm of 1,000 callers with a 1 s timeout on one held key: every one times out (no store error),"
            + " 99% within 250 ms of the deadline and all within 1 s, no warning flood, and the key is free for a"
            + " no-wait acquire right after")
    void everyCallerOfAStormTimesOutCleanlyAndTheKeyIsFreeAfterwards() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);
        try (PrivatePostgres pg = PrivatePostgres.start()) {
            Map<String, Object> options = new HashMap<>();
            options.put("url", pg.jdbcUrl());
            options.put("user", pg.user());
            configure(options);
            try (LockingModule module = TestModules.module(options)) {
                module.migrate();
                String key = "storm";
                LockOptions holder = LockOptions.defaults().owner("holder");
                module.acquire(key, holder);

                ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
                ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
                CountDownLatch start = new CountDownLatch(1);
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < CALLERS; i++) {
                    LockOptions caller = LockOptions.defaults().owner("c" + i).timeout(TIMEOUT);
                    Thread t = new Thread(
                            null,
                            () -> {
                                try {
                                    start.await();
                                } catch (InterruptedException e) {
                                    return;
                                }
                                long begun = System.nanoTime();
                                String what;
                                try {
                                    module.acquire(key, caller);
                                    what = "acquired";
                                } catch (RuntimeException e) {
                                    what = e.getClass().getSimpleName();
                                    if (!(e instanceof LockTimeoutException))
                                        errors.add(String.valueOf(e.getMessage()));
                                }
                                long late =
                                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begun - TIMEOUT.toNanos());
                                outcomes.add(new Outcome(what, late));
                            },
                            "storm-" + i,
                            256 * 1024);
                    threads.add(t);
                    t.start();
                }
                // How late this machine itself is while the storm runs: how late it wakes a
                // sleeping thread, and how long the server takes to answer SELECT 1 on a connection
                // of its own. That part of a caller's lateness no code of ours can remove (2 cores
                // shared with other work, a thousand threads, the server on the same cores); it is
                // added to the 250 ms the callers are promised.
                AtomicLong oversleep = new AtomicLong();
                AtomicBoolean storming = new AtomicBoolean(true);
                Thread probe = new Thread(() -> {
                    try (Connection c = pg.dataSource().getConnection();
                            Statement st = c.createStatement()) {
                        while (storming.get()) {
                            long before = System.nanoTime();
                            Thread.sleep(5);
                            st.execute("SELECT 1");
                            long over = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - before) - 5;
                            oversleep.accumulateAndGet(over, Math::max);
                        }
                    } catch (SQLException | InterruptedException e) {
                        oversleep.set(Long.MIN_VALUE / 2); // no allowance without a measurement
                    }
                });
                probe.start();
                start.countDown();
                for (Thread t : threads) t.join(TimeUnit.SECONDS.toMillis(60));
                storming.set(false);
                probe.join();

                assertTrue(module.release(key, holder));
                // Right after the storm: free, and no dead queue entry reserves it.
                boolean freeAfter;
                try {
                    module.acquire(key, LockOptions.defaults().owner("after").timeout(Duration.ZERO));
                    freeAfter = module.release(key, LockOptions.defaults().owner("after"));
                } catch (RuntimeException e) {
                    freeAfter = false;
                }

                Map<String, Integer> byWhat = new TreeMap<>();
                long latest = Long.MIN_VALUE;
                for (Outcome o : outcomes) {
                    byWhat.merge(o.what(), 1, Integer::sum);
                    latest = Math.max(latest, o.lateMillis());
                }
                long[] late = outcomes.stream()
                        .mapToLong(Outcome::lateMillis)
                        .sorted()
                        .toArray();
                String seen = "outcomes " + byWhat + ", late by p50 " + late[late.length / 2] + " ms, p99 "
                        + late[late.length * 99 / 100] + " ms, latest " + latest + " ms (the machine was late by "
                        + oversleep.get() + " ms at most), key free after: "
                        + freeAfter + ", errors such as "
                        + errors.stream().distinct().limit(3).toList();
                LoggerFactory.getLogger(getClass()).info("storm of {}: {}", CALLERS, seen);
                assertEquals(
                        Map.of(LockTimeoutException.class.getSimpleName(), CALLERS),
                        byWhat,
                        "every caller timed out, none got a store error; " + seen);
                // The promise is 250 ms. On a shared 2-core host a few callers of a thousand can be
                // later, in the database's own scheduling (a cancel answered late); 1 s bounds them.
                long p99 = late[late.length * 99 / 100];
                assertTrue(p99 <= 250 + Math.max(0, oversleep.get()), "callers returned too late; " + seen);
                assertTrue(latest <= 1000, "the latest caller returned too late; " + seen);
                assertTrue(freeAfter, "a no-wait acquire right after the storm; " + seen);
            }
        } finally {
            root.detachAppender(logs);
        }
        List<ILoggingEvent> warnings = logs.list.stream()
                .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .toList();
        long withStackTraces =
                warnings.stream().filter(e -> e.getThrowableProxy() != null).count();
        assertTrue(
                warnings.size() <= 3 && withStackTraces == 0,
                warnings.size() + " warnings, " + withStackTraces + " with stack traces, first: "
                        + warnings.stream()
                                .limit(3)
                                .map(ILoggingEvent::getFormattedMessage)
                                .toList());
    }
}
