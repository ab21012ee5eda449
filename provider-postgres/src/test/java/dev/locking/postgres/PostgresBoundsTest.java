package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.LockingProvider;
import dev.locking.testkit.servers.PgBouncerServer;
import dev.locking.testkit.servers.PostgresServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Callers' deadlines against a busy key's advisory lock, the listener behind PgBouncer, and
 * migrate's error message.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // resources held for the body's duration, not used in it
class PostgresBoundsTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "bounds");
    }

    private static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    /**
     * Another session holds the session-level advisory lock on {@code key}'s hash, as an
     * application's own advisory lock sharing the hash, or a slow concurrent call, would.
     */
    private static Connection holdHash(String key) throws SQLException {
        Connection other = server.dataSource().getConnection();
        try (PreparedStatement ps = other.prepareStatement("SELECT pg_advisory_lock(hashtextextended(?, 0))")) {
            ps.setString(1, key);
            ps.execute();
        }
        return other;
    }

    private static long millisSince(long started) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    }

    private static LockingProvider provider(Map<String, Object> options) {
        return new PostgresLockingProviderFactory().create(new TestContext(options));
    }

    private static java.sql.Timestamp refreshedAt(String key, String waiter) throws SQLException {
        try (Connection c = server.dataSource().getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT refreshed_at FROM \"" + schema
                        + "\".locking_waiter WHERE lock_id = ? AND waiter_id = ?")) {
            ps.setString(1, key);
            ps.setString(2, waiter);
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getTimestamp(1) : null;
            }
        }
    }

    @Test
    @DisplayName("one bulk refresh keeps parked waiters in line past waiter-expiry, and re-queues no one")
    void bulkRefreshKeepsParkedWaitersInLine() throws Exception {
        Map<String, Object> options = new java.util.HashMap<>(TestModules.options(server, server.jdbcUrl(), schema));
        options.put("poll-interval", "100ms");
        options.put("waiter-expiry", "1500ms");
        LockingProvider p = provider(options);
        try {
            String a = unique("ra"), b = unique("rb");
            assertInstanceOf(
                    AcquireResult.Acquired.class, p.tryAcquire(new AcquireRequest(List.of(a), "holder", null, null)));
            assertInstanceOf(
                    AcquireResult.Blocked.class,
                    p.tryAcquire(new AcquireRequest(List.of(a, b), "w", null, "waiter-1")));
            java.sql.Timestamp first = refreshedAt(a, "waiter-1");
            assertTrue(first != null, "the blocked waiter is queued");
            Thread.sleep(800);
            assertTrue(p.refreshWaiters(Map.of("waiter-1", List.of(a, b), "gone", List.of(a))));
            java.sql.Timestamp refreshed = refreshedAt(a, "waiter-1");
            assertTrue(refreshed.getTime() >= first.getTime() + 750, first + " -> " + refreshed);
            assertTrue(refreshedAt(b, "waiter-1") != null, "on every key of the wait");
            assertEquals(null, refreshedAt(a, "gone"), "a waiter not in line is not put in line");
            // Past its 1.5 s lifetime but for the refresh (which gives it until ~2.3 s after queueing);
            // margins wide enough for a loaded machine.
            long sinceQueued = System.currentTimeMillis() - first.getTime();
            Thread.sleep(Math.max(0, 1600 - sinceQueued));
            assertTrue(p.release(List.of(a), "holder"));
            AcquireResult.Blocked later = assertInstanceOf(
                    AcquireResult.Blocked.class, p.tryAcquire(new AcquireRequest(List.of(a), "x", null, "waiter-2")));
            assertEquals("waiter-1", later.aheadWaiterId(), "the refreshed waiter keeps its place");
            p.leaveQueue(List.of(a, b), "waiter-1");
            p.leaveQueue(List.of(a), "waiter-2");
        } finally {
            p.close();
        }
    }

    /** An application pool of one connection, whose connectionTimeout is {@code connectionTimeoutMillis}. */
    private HikariDataSource onePool(long connectionTimeoutMillis) {
        HikariConfig config = TestModules.appPoolConfig(server);
        config.setMaximumPoolSize(1);
        config.setConnectionTimeout(connectionTimeoutMillis);
        return new HikariDataSource(config);
    }

    /** A module whose registration "pg" runs on {@code pool}, polling instead of listening (no second connection). */
    private LockingModule handedIn(HikariDataSource pool) {
        Map<String, Object> options = new HashMap<>();
        options.put("schema", schema);
        options.put("notifications", "poll");
        return LockingModule.builder()
                .config(TestModules.config(options).withFallback(com.typesafe.config.ConfigFactory.load()))
                .dataSource("pg", pool)
                .build();
    }

    @Test
    @DisplayName("every pooled connection in use past connectionTimeout: a waiting acquire waits on, timeout 0 fails")
    void saturatedPoolIsBusyForAWaitingCaller() throws Exception {
        String key = unique("saturated");
        LockOptions owner = LockOptions.defaults().owner("S");
        try (HikariDataSource appPool = onePool(250);
                LockingModule m = handedIn(appPool)) {
            m.acquire(unique("warm"), owner.expire(Duration.ofSeconds(5))); // the pool's one connection exists
            CompletableFuture<Long> waited;
            try (Connection taken = appPool.getConnection()) {
                LockingException refused = assertThrows(
                        LockingException.class,
                        () -> m.acquire(key, owner.timeout(Duration.ZERO)),
                        "a caller that does not wait learns the store is unavailable");
                assertTrue(
                        refused.getMessage().contains("every connection of the pool stayed in use")
                                && refused.getMessage().contains("pool.maximumPoolSize"),
                        refused.getMessage());
                long started = System.nanoTime();
                waited = CompletableFuture.supplyAsync(() -> {
                    m.acquire(key, owner.timeout(Duration.ofSeconds(30)));
                    return millisSince(started);
                });
                Thread.sleep(1_000); // four connectionTimeouts with every connection in use
                assertFalse(waited.isDone(), () -> "the waiting acquire ended early: " + waited);
            }
            long tookMillis = waited.get(30, TimeUnit.SECONDS);
            assertTrue(tookMillis >= 1_000, "acquired once the connection was back: " + tookMillis + " ms");
            assertTrue(m.release(key, owner));
        }
    }

    @Test
    @DisplayName(
            "a saturated HikariCP pool: a caller with a deadline waits for a connection until then, not connectionTimeout")
    void saturatedPoolWaitIsBoundedByTheDeadline() throws Exception {
        String key = unique("bounded-borrow");
        LockOptions owner = LockOptions.defaults().owner("B");
        try (HikariDataSource appPool = onePool(20_000);
                LockingModule m = handedIn(appPool)) {
            m.acquire(unique("warm"), owner.expire(Duration.ofSeconds(5))); // the pool's one connection exists
            try (Connection taken = appPool.getConnection()) {
                long started = System.nanoTime();
                LockingException now =
                        assertThrows(LockingException.class, () -> m.acquire(key, owner.timeout(Duration.ZERO)));
                long nowMillis = millisSince(started);
                assertTrue(
                        now.getMessage().contains("ms the call could wait")
                                && now.getMessage().contains("pool.maximumPoolSize"),
                        now.getMessage());
                // Semantics: bounded by the deadline (plus 300 ms), not by the 20 s connectionTimeout.
                assertTrue(nowMillis < 5_000, "timeout 0 waited " + nowMillis + " ms for a connection");

                // A caller that waits is told it timed out, not that the store failed: the pool being
                // busy is the warning's to say.
                started = System.nanoTime();
                assertThrows(LockTimeoutException.class, () -> m.acquire(key, owner.timeout(Duration.ofMillis(500))));
                long halfMillis = millisSince(started);
                assertTrue(halfMillis >= 500, "gave up before its timeout: " + halfMillis + " ms");
                assertTrue(halfMillis < 5_000, "timeout 500 ms waited " + halfMillis + " ms for a connection");

                // A call without a deadline (release) still waits the pool's connectionTimeout: it is
                // not cut short, and succeeds once the connection is back.
                CompletableFuture<Boolean> release = CompletableFuture.supplyAsync(() -> m.release(key, owner));
                Thread.sleep(500);
                assertFalse(release.isDone(), () -> "the release gave up early: " + release);
                taken.close();
                assertFalse(release.get(20, TimeUnit.SECONDS), "nothing was held, so nothing to release");
            }
            m.acquire(key, owner.timeout(Duration.ZERO));
            assertTrue(m.release(key, owner), "nothing of the refused calls was left behind");
        }
    }

    @Test
    @DisplayName("a busy key's advisory lock: timeout 0 fails at once, timeout 500 ms within 250 ms of it")
    void deadlinesAreHonouredOnABusyKey() throws Exception {
        String hot = unique("hot");
        try (LockingModule m = TestModules.module(TestModules.options(server, server.jdbcUrl(), schema))) {
            // Warm up: pool, driver, JIT; not what is measured.
            String warm = unique("warm");
            m.acquire(warm, LockOptions.defaults().owner("W"));
            assertTrue(m.release(warm, LockOptions.defaults().owner("W")));
            try (Connection other = holdHash(hot)) {
                long started = System.nanoTime();
                LockAcquisitionException zero =
                        assertThrows(LockAcquisitionException.class, () -> m.acquire(hot, LockOptions.defaults()));
                long zeroMillis = millisSince(started);
                assertFalse(zero instanceof LockTimeoutException, zero.toString());
                assertEquals(hot, zero.key());
                // Semantics: "at once"; lock-timeout is 2 s. Bound generous for load only.
                assertTrue(zeroMillis < 500, "timeout 0 took " + zeroMillis + " ms");

                LockOptions halfSecond = LockOptions.defaults().owner("A").timeout(Duration.ofMillis(500));
                started = System.nanoTime();
                assertThrows(LockTimeoutException.class, () -> m.acquire(hot, halfSecond));
                long acquireMillis = millisSince(started);
                assertTrue(
                        acquireMillis >= 500 && acquireMillis <= 750,
                        "acquire with timeout 500 ms took " + acquireMillis + " ms");

                started = System.nanoTime();
                assertThrows(
                        LockTimeoutException.class,
                        () -> m.execute(
                                hot, ctx -> "ran", LockOptions.defaults().timeout(Duration.ofMillis(500))));
                long executeMillis = millisSince(started);
                assertTrue(
                        executeMillis >= 500 && executeMillis <= 750,
                        "execute with timeout 500 ms took " + executeMillis + " ms");
            }
            // Once the other session lets go, the key is simply free.
            m.acquire(hot, LockOptions.defaults().owner("A"));
            assertTrue(m.release(hot, LockOptions.defaults().owner("A")));
        }
    }

    @Test
    @DisplayName("a multi-key call blocked on a busy key's advisory lock names that key, not the first")
    void blockedNamesTheBusyKey() throws Exception {
        String id = UUID.randomUUID().toString();
        List<String> keys = List.of("a-free-" + id, "m-free-" + id, "z-hot-" + id);
        try (LockingProvider p = provider(TestModules.options(server, server.jdbcUrl(), schema));
                Connection other = holdHash(keys.get(2))) {
            long started = System.nanoTime();
            AcquireResult r = p.tryAcquire(new AcquireRequest(keys, "A", null, null, Duration.ZERO));
            long millis = millisSince(started);
            AcquireResult.Blocked blocked = assertInstanceOf(AcquireResult.Blocked.class, r);
            assertEquals(keys.get(2), blocked.key());
            assertTrue(millis < 500, "a caller that does not wait was held " + millis + " ms");
        }
    }

    @Test
    @DisplayName("a free key is still granted to a caller that does not wait while a contender holds it briefly")
    void budgetZeroStillWaitsMomentarily() throws Exception {
        String key = unique("brief");
        try (LockingProvider p = provider(TestModules.options(server, server.jdbcUrl(), schema))) {
            Connection other = holdHash(key);
            CompletableFuture<Void> letGo = CompletableFuture.runAsync(() -> {
                try (other) {
                    Thread.sleep(10);
                    try (PreparedStatement ps =
                            other.prepareStatement("SELECT pg_advisory_unlock(hashtextextended(?, 0))")) {
                        ps.setString(1, key);
                        ps.execute();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            AcquireResult r = p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null, Duration.ZERO));
            letGo.get(10, TimeUnit.SECONDS);
            assertInstanceOf(AcquireResult.Acquired.class, r, "a key busy for 10 ms is still granted at once");
            assertTrue(p.release(List.of(key), "A"));
        }
    }

    @Test
    @DisplayName("a waiter that gives up leaves its queue within a short bound, even on a busy key")
    void leaveQueueIsBounded() throws Exception {
        String key = unique("leave");
        try (LockingProvider p = provider(TestModules.options(server, server.jdbcUrl(), schema))) {
            assertInstanceOf(
                    AcquireResult.Acquired.class, p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
            // B waits: it is queued behind A.
            assertInstanceOf(
                    AcquireResult.Blocked.class,
                    p.tryAcquire(new AcquireRequest(List.of(key), "B", null, "waiter-b", Duration.ofSeconds(1))));
            try (Connection other = holdHash(key)) {
                long started = System.nanoTime();
                p.leaveQueue(List.of(key), "waiter-b"); // must neither wait lock-timeout (2 s) nor throw
                long millis = millisSince(started);
                assertTrue(millis < 500, "leaveQueue took " + millis + " ms");
            }
            assertTrue(p.release(List.of(key), "A"));
        }
    }

    @Test
    @DisplayName("LISTEN through PgBouncer in transaction mode: a warning naming listen-url, then polling")
    void listenBehindTransactionPoolerFallsBackToPolling() throws Exception {
        PgBouncerServer bouncer = PgBouncerServer.shared();
        Logger logger = (Logger) LoggerFactory.getLogger(NotificationListener.class);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        logger.addAppender(logs);
        Map<String, Object> pooled = TestModules.options(server, bouncer.jdbcUrl(), schema);
        pooled.put("poll-interval", "100ms");
        pooled.put("waiter-expiry", "1s");
        String key = unique("bouncer");
        try (LockingProvider p = provider(pooled)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (warnings(logs).isEmpty() && System.nanoTime() < deadline) Thread.sleep(20);
            List<String> warned = warnings(logs);
            assertEquals(1, warned.size(), "one warning: " + warned);
            assertTrue(warned.get(0).contains("listen-url"), warned.get(0));
            assertTrue(warned.get(0).contains("notifications = poll"), warned.get(0));
            Thread.sleep(300);
            assertFalse(((PostgresLockingProvider) p).listening(), "nothing listens on a shared session");
            assertTrue(p.toString().contains("poll every 100 ms"), p.toString());
            // Locks work as ever.
            assertInstanceOf(
                    AcquireResult.Acquired.class, p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
            assertTrue(p.release(List.of(key), "A"));
        } finally {
            logger.detachAppender(logs);
        }
        // A direct URL is a session of its own: it listens, and says nothing.
        logs.list.clear();
        logger.addAppender(logs);
        try (LockingProvider p = provider(TestModules.options(server, server.jdbcUrl(), schema))) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!((PostgresLockingProvider) p).listening() && System.nanoTime() < deadline) Thread.sleep(20);
            assertTrue(((PostgresLockingProvider) p).listening());
            assertEquals(List.of(), warnings(logs));
        } finally {
            logger.detachAppender(logs);
        }
    }

    private static List<String> warnings(ListAppender<ILoggingEvent> logs) {
        return logs.list.stream()
                .filter(e -> e.getLevel() == Level.WARN)
                .map(ILoggingEvent::getFormattedMessage)
                .toList();
    }

    @Test
    @DisplayName("a failed migration is one readable line, with Flyway's report chained as the cause")
    void migrateFailureIsOneLine() {
        String role =
                "t_noperm_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        String fresh = server.newSchema("noperm");
        server.execute("CREATE ROLE " + role + " LOGIN");
        try {
            Map<String, Object> opts = TestModules.options(server, server.jdbcUrl(), fresh);
            opts.put("user", role);
            opts.put("notifications", "poll");
            try (LockingProvider p = provider(opts)) {
                LockingException e = assertThrows(LockingException.class, p::migrate);
                String message = e.getMessage();
                assertFalse(message.contains("\n") || message.contains("\r"), "more than one line: " + message);
                assertTrue(message.contains("permission denied"), message);
                assertTrue(message.contains("SQL state 42501"), message);
                assertTrue(message.contains("run migrate again"), message);
                assertTrue(
                        e.getCause() instanceof org.flywaydb.core.api.FlywayException,
                        "Flyway's exception is chained: " + e.getCause());
            }
        } finally {
            server.dropSchema(fresh);
            server.execute("DROP ROLE IF EXISTS " + role);
        }
    }
}
