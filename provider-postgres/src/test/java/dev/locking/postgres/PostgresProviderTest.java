package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.locking.api.Lease;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingConfigurationException;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.LockingProvider;
import dev.locking.testkit.servers.PgBouncerServer;
import dev.locking.testkit.servers.PostgresServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/** What is PostgreSQL-specific: migrations, options, secrets, SQL safety, the advisory-lock design. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresProviderTest {
    /** The provider's migrations: the baseline V1. */
    private static final int MIGRATIONS = 1;

    private static final PostgresServer server = PostgresServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "provider");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static Map<String, Object> options(String schema) {
        return TestModules.options(server, server.jdbcUrl(), schema);
    }

    private static LockingProvider provider(Map<String, Object> options) {
        return new PostgresLockingProviderFactory().create(new TestContext(options));
    }

    private static List<String> query(String sql) {
        List<String> rows = new ArrayList<>();
        try (Connection c = server.dataSource().getConnection();
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) rows.add(rs.getString(1));
        } catch (SQLException e) {
            throw new AssertionError(sql + ": " + e.getMessage(), e);
        }
        return rows;
    }

    @Test
    @DisplayName("migrate creates the tables and functions under its own history table, once")
    void migrateUsesItsOwnHistoryTableAndIsIdempotent() {
        String fresh = server.newSchema("migrate");
        try (LockingProvider p = provider(options(fresh))) {
            List<String> applied = p.migrate();
            assertEquals(MIGRATIONS, applied.size(), applied.toString());
            assertTrue(applied.get(0).contains("V1"), applied.toString());
            assertEquals(List.of(), p.migrate(), "a second migrate has nothing to do");
            assertEquals(
                    List.of("locking", "locking_schema_history", "locking_undone", "locking_waiter"),
                    query("SELECT table_name FROM information_schema.tables WHERE table_schema = '" + fresh
                            + "' ORDER BY 1"));
            AcquireResult r = p.tryAcquire(new AcquireRequest(List.of("k"), "A", null, null));
            assertInstanceOf(AcquireResult.Acquired.class, r);
        } finally {
            server.dropSchema(fresh);
        }
    }

    @Test
    @DisplayName("migrate leaves the application's flyway_schema_history and tables alone")
    void migrateLeavesTheApplicationsFlywayHistoryAlone() {
        String app = server.newSchema("app");
        try {
            server.execute("CREATE TABLE " + app + ".flyway_schema_history (installed_rank int primary key,"
                    + " version text, description text)");
            server.execute("INSERT INTO " + app + ".flyway_schema_history VALUES (1, '1', 'the app''s own')");
            server.execute("CREATE TABLE " + app + ".orders (id int)");
            try (LockingProvider p = provider(options(app))) {
                assertEquals(MIGRATIONS, p.migrate().size(), "a non-empty schema is baselined, not refused");
                assertTrue(p.release(List.of("k"), "A") == false);
            }
            assertEquals(
                    List.of("1|the app's own"),
                    query("SELECT version || '|' || description FROM " + app + ".flyway_schema_history"));
            assertEquals(
                    List.of("0", "1"),
                    query("SELECT version FROM " + app + ".locking_schema_history ORDER BY installed_rank"));
        } finally {
            server.dropSchema(app);
        }
    }

    @Test
    @DisplayName("a call stuck on the server is cancelled at statement-timeout, and the pool's next call works")
    void stuckCallIsCancelledAtStatementTimeout() throws Exception {
        Map<String, Object> opts = options(schema);
        opts.put("statement-timeout", "1s");
        opts.put("lock-timeout", "30s"); // the lock wait alone would not end it
        String key = "stuck-" + System.nanoTime();
        try (LockingProvider p = provider(opts);
                Connection blocker = server.dataSource().getConnection()) {
            assertInstanceOf(
                    AcquireResult.Acquired.class, p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
            blocker.setAutoCommit(false);
            try (PreparedStatement ps =
                    blocker.prepareStatement("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))")) {
                ps.setString(1, key);
                ps.execute();
            }
            long started = System.nanoTime();
            LockingException e = assertThrows(LockingException.class, () -> p.release(List.of(key), "A"));
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(e.getMessage().contains("statement-timeout"), e.getMessage());
            assertTrue(millis >= 900 && millis < 10_000, "cancelled after " + millis + " ms");
            blocker.rollback();
            assertTrue(p.release(List.of(key), "A"), "the lock was still held, and is released now");
        }
    }

    @Test
    @DisplayName("a database with Medusa's locking table is upgraded in place; its held locks stay held")
    void medusaTableIsUpgradedInPlace() {
        String medusa = server.newSchema("medusa");
        try {
            server.execute("CREATE TABLE " + medusa + ".locking (id text PRIMARY KEY, owner_id text NULL,"
                    + " expiration timestamptz NULL)");
            server.execute("INSERT INTO " + medusa + ".locking VALUES ('old', 'medusa-owner', NULL)");
            try (LockingProvider p = provider(options(medusa))) {
                assertEquals(MIGRATIONS, p.migrate().size());
                assertInstanceOf(
                        AcquireResult.Blocked.class, p.tryAcquire(new AcquireRequest(List.of("old"), "B", null, null)));
                assertTrue(p.release(List.of("old"), "medusa-owner"));
                AcquireResult.Acquired a =
                        (AcquireResult.Acquired) p.tryAcquire(new AcquireRequest(List.of("old"), "B", null, null));
                assertTrue(a.fencingTokens().get("old") > 1, a.toString());
            }
        } finally {
            server.dropSchema(medusa);
        }
    }

    @Test
    @DisplayName("expired locks of keys never taken again and dead waiters' places are removed within"
            + " cleanup-interval; held locks stay")
    void expiredRowsAreRemovedWithoutTheirKeysBeingTouchedAgain() throws Exception {
        String fresh = TestModules.migratedSchema(server, "cleanup");
        Map<String, Object> opts = options(fresh);
        opts.put("cleanup-interval", "1s");
        opts.put("poll-interval", "100ms");
        opts.put("waiter-expiry", "500ms");
        opts.put("notifications", "poll");
        try (LockingProvider p = provider(opts)) {
            for (int i = 0; i < 200; i++)
                assertInstanceOf(
                        AcquireResult.Acquired.class,
                        p.tryAcquire(new AcquireRequest(List.of("gone-" + i), "A", Duration.ofMillis(50), null)));
            assertInstanceOf(
                    AcquireResult.Acquired.class, p.tryAcquire(new AcquireRequest(List.of("held"), "A", null, null)));
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    p.tryAcquire(new AcquireRequest(List.of("leased"), "A", Duration.ofMinutes(5), null)));
            // A waiter that queues and is never heard of again.
            assertInstanceOf(
                    AcquireResult.Blocked.class,
                    p.tryAcquire(new AcquireRequest(List.of("held"), "W", Duration.ofMinutes(5), "w-gone")));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            List<String> left = query("SELECT count(*) FROM " + fresh + ".locking WHERE id LIKE 'gone-%'");
            List<String> queued = query("SELECT count(*) FROM " + fresh + ".locking_waiter");
            while ((!left.equals(List.of("0")) || !queued.equals(List.of("0"))) && System.nanoTime() < deadline) {
                sleep(100);
                left = query("SELECT count(*) FROM " + fresh + ".locking WHERE id LIKE 'gone-%'");
                queued = query("SELECT count(*) FROM " + fresh + ".locking_waiter");
            }
            assertEquals(List.of("0"), left, "expired rows left");
            assertEquals(List.of("0"), queued, "dead queue entries left");
            assertEquals(
                    List.of("held", "leased"),
                    query("SELECT id FROM " + fresh + ".locking ORDER BY id"),
                    "held locks stay");
            assertTrue(p.release(List.of("held", "leased"), "A"));
        } finally {
            server.dropSchema(fresh);
        }
    }

    @Test
    @DisplayName("a DataSource whose connections default to REPEATABLE READ is refused with a clear error")
    void repeatableReadIsRefused() {
        HikariConfig config = TestModules.appPoolConfig(server);
        config.setTransactionIsolation("TRANSACTION_REPEATABLE_READ");
        config.setMaximumPoolSize(2);
        Map<String, Object> opts = new HashMap<>();
        opts.put("schema", schema);
        opts.put("notifications", "poll");
        try (HikariDataSource rr = new HikariDataSource(config);
                LockingProvider p = new PostgresLockingProviderFactory().create(new TestContext(opts, rr))) {
            LockingException e = assertThrows(
                    LockingException.class, () -> p.tryAcquire(new AcquireRequest(List.of("rr"), "A", null, null)));
            assertTrue(e.getMessage().contains("READ COMMITTED"), e.getMessage());
        }
    }

    @Test
    @DisplayName("calls on an unmigrated database fail saying to run the migrations, and how")
    void unmigratedDatabaseFailsWithMigrateAdvice() {
        String empty = server.newSchema("empty");
        try (LockingProvider p = provider(options(empty))) {
            LockingException e = assertThrows(
                    LockingException.class, () -> p.tryAcquire(new AcquireRequest(List.of("k"), "A", null, null)));
            assertTrue(e.getMessage().contains("lp_pg-test"), e.getMessage());
            assertTrue(e.getMessage().contains("not migrated"), e.getMessage());
            assertTrue(e.getMessage().contains("LockingModule.migrate()"), e.getMessage());
            assertTrue(e.getMessage().contains("`locking migrate`"), e.getMessage());
            assertThrows(LockingException.class, () -> p.release(List.of("k"), "A"));
            assertThrows(LockingException.class, () -> p.releaseAll(null));
        } finally {
            server.dropSchema(empty);
        }
    }

    @Test
    @DisplayName("bad options are all reported at once, each under its full key path")
    void badOptionsAreAllReportedWithTheirPaths() {
        Map<String, Object> bad = new HashMap<>();
        bad.put("url", "postgres://not-jdbc");
        bad.put("schema", "Bad-Schema");
        bad.put("notifications", "sometimes");
        bad.put("poll-interval", "fast");
        bad.put("statement-timeout", "10ms");
        bad.put("colour", "blue");
        bad.put("pool", Map.of("maximumPoolSiz", 3, "jdbcUrl", "jdbc:postgresql://elsewhere/db"));
        LockingConfigurationException e =
                assertThrows(LockingConfigurationException.class, () -> new PostgresLockingProviderFactory()
                        .create(new TestContext(bad)));
        String p = TestContext.PATH + ".";
        for (String key : List.of(
                "url",
                "schema",
                "notifications",
                "poll-interval",
                "statement-timeout",
                "colour",
                "pool.maximumPoolSiz",
                "pool.jdbcUrl"))
            assertTrue(
                    e.problems().stream().anyMatch(problem -> problem.startsWith(p + key + " ")),
                    "no problem reported for " + p + key + " in " + e.problems());
        assertEquals(8, e.problems().size(), e.problems().toString());

        Map<String, Object> noUrl = new HashMap<>();
        LockingConfigurationException missing =
                assertThrows(LockingConfigurationException.class, () -> new PostgresLockingProviderFactory()
                        .create(new TestContext(noUrl)));
        assertTrue(missing.getMessage().contains(p + "url is required"), missing.getMessage());
    }

    @Test
    @DisplayName("a URL the driver cannot use (user:password@host, a bad port) is refused at start, showing no secret")
    void urlsTheDriverCannotUseAreRefusedWithoutTheSecret() {
        String secret = "Pw-7f3c@x";
        for (String url : List.of(
                "jdbc:postgresql://app:" + secret + "@127.0.0.1/db",
                "jdbc:postgresql://app:" + secret + "@127.0.0.1:5432/db",
                "jdbc:postgresql://127.0.0.1:54x32/db?password=" + secret + "#tail",
                "jdbc:postgresql://127.0.0.1:99999/db?user=app&password=" + secret)) {
            Map<String, Object> opts = new HashMap<>();
            opts.put("url", url);
            opts.put("listen-url", url);
            LockingConfigurationException e =
                    assertThrows(LockingConfigurationException.class, () -> new PostgresLockingProviderFactory()
                            .create(new TestContext(opts)));
            assertEquals(2, e.problems().size(), e.problems().toString());
            assertTrue(
                    e.problems().get(0).startsWith(TestContext.PATH + ".url "),
                    e.problems().toString());
            assertTrue(
                    e.problems().get(1).startsWith(TestContext.PATH + ".listen-url "),
                    e.problems().toString());
            assertFalse(e.getMessage().contains("Pw-7f3c") || e.getMessage().contains("7f3c"), e.getMessage());
        }
        assertEquals(
                "jdbc:postgresql://h/db?user=u&password=<masked>",
                PostgresSettings.redact("jdbc:postgresql://h/db?user=u&password=ab#cd;ef"));
    }

    @Test
    @DisplayName("the password appears in no log line, exception or toString, also when the server is down")
    void passwordIsNeverShown() {
        String secret = "S3cret-Pa55word";
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);
        ch.qos.logback.classic.Level before = root.getLevel();
        root.setLevel(ch.qos.logback.classic.Level.DEBUG);
        List<String> seen = new ArrayList<>();
        try {
            // A closed port: every call fails, and so does the listener, over and over.
            Map<String, Object> down = options(schema);
            down.put("url", "jdbc:postgresql://127.0.0.1:1/test?user=postgres&password=" + secret);
            down.put("password", secret);
            down.put("pool", Map.of("connectionTimeout", 500));
            try (LockingProvider p = provider(down)) {
                seen.add(p.toString());
                LockingException e = assertThrows(
                        LockingException.class, () -> p.tryAcquire(new AcquireRequest(List.of("k"), "A", null, null)));
                for (Throwable t = e; t != null; t = t.getCause()) seen.add(String.valueOf(t.getMessage()));
                sleep(700);
            }
            // A reachable server with the password in the URL and the option (trust auth ignores it).
            Map<String, Object> up = options(schema);
            up.put("url", server.jdbcUrl() + "?password=" + secret);
            up.put("password", secret);
            try (LockingModule m = TestModules.module(up)) {
                seen.add(m.toString());
                seen.add(m.providers().toString());
                Lease lease = m.acquire("secret-test", LockOptions.defaults().owner("A"));
                seen.add(lease.toString());
                assertTrue(m.release("secret-test", LockOptions.defaults().owner("A")));
            }
        } finally {
            root.detachAppender(logs);
            root.setLevel(before);
        }
        for (ILoggingEvent event : logs.list) {
            seen.add(event.getFormattedMessage());
            if (event.getThrowableProxy() != null)
                seen.add(event.getThrowableProxy().getMessage());
        }
        assertTrue(logs.list.size() > 3, "the test saw the provider's logs");
        for (String text : seen) assertFalse(text.contains(secret), "the password leaked: " + text);
        assertEquals(
                "jdbc:postgresql://h/db?user=u&password=<masked>&ssl=true",
                PostgresSettings.redact("jdbc:postgresql://h/db?user=u&password=x&ssl=true"));
    }

    @Test
    @DisplayName("keys and owners are escaped in exception messages and log lines: a newline cannot forge a line")
    void keysAndOwnersAreEscapedInMessagesAndLogLines() throws Exception {
        String key = "evil\n12:00:00.000 ERROR forged\u001b[2J";
        String escaped = "evil\\n12:00:00.000 ERROR forged\\u001B[2J";
        String owner = "o\r\nX";
        String empty = server.newSchema("escape");
        try (LockingProvider p = provider(options(empty))) {
            LockingException e = assertThrows(
                    LockingException.class, () -> p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
            assertTrue(e.getMessage().contains(escaped), e.getMessage());
            LockingException all = assertThrows(LockingException.class, () -> p.releaseAll(owner));
            assertTrue(all.getMessage().contains("o\\r\\nX"), all.getMessage());
            for (String m : List.of(e.getMessage(), all.getMessage()))
                assertFalse(m.contains("\n") || m.contains("\r") || m.contains("\u001b"), m);
        } finally {
            server.dropSchema(empty);
        }
        // A log line: a call that finds its pooled connection dead says so at DEBUG, naming the key.
        Logger logger = (Logger) LoggerFactory.getLogger(PostgresLockingProvider.class);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        logger.addAppender(logs);
        ch.qos.logback.classic.Level before = logger.getLevel();
        logger.setLevel(ch.qos.logback.classic.Level.DEBUG);
        String application = "escape-test-" + java.util.UUID.randomUUID();
        Map<String, Object> opts = options(schema);
        opts.put("notifications", "poll");
        opts.put("pool", Map.of("maximumPoolSize", 1, "dataSource", Map.of("ApplicationName", application)));
        try (LockingProvider p = provider(opts)) {
            assertInstanceOf(
                    AcquireResult.Acquired.class, p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
            assertEquals(1, server.terminateSessions(application), "this test's one pooled session");
            assertTrue(p.release(List.of(key), "A"));
        } finally {
            logger.detachAppender(logs);
            logger.setLevel(before);
        }
        List<String> lines = logs.list.stream()
                .map(ILoggingEvent::getFormattedMessage)
                .filter(m -> m.contains("dead connection"))
                .toList();
        assertEquals(1, lines.size(), logs.list.toString());
        assertTrue(lines.get(0).contains(escaped), lines.get(0));
        assertFalse(lines.get(0).contains("\n"), lines.get(0));
    }

    @Test
    @DisplayName("keys and owners full of SQL are stored verbatim: they are only ever bound parameters")
    void hostileKeysAreBoundParameters() {
        List<String> keys = List.of(
                "'); DROP TABLE " + schema + ".locking; --",
                "$1",
                "\\'",
                "x' OR '1'='1",
                "\"; SELECT pg_sleep(10); --",
                "{a,b}",
                "NULL");
        String owner = "o'); DELETE FROM " + schema + ".locking; --";
        List<String> sorted = keys.stream().sorted().toList();
        try (LockingProvider p = provider(options(schema))) {
            assertInstanceOf(AcquireResult.Acquired.class, p.tryAcquire(new AcquireRequest(sorted, owner, null, null)));
            assertEquals(
                    sorted,
                    query("SELECT id FROM " + schema + ".locking WHERE owner_id = 'o''); DELETE FROM " + schema
                            + ".locking; --' ORDER BY id COLLATE \"C\""));
            assertTrue(p.release(sorted, owner));
            assertEquals(List.of(), query("SELECT id FROM " + schema + ".locking WHERE id = 'NULL'"));
        }
    }

    @Test
    @DisplayName("a held advisory lock of the same hash only delays a call; the row decides who owns the key")
    void sameHashOnlyDelays() throws Exception {
        Map<String, Object> opts = options(schema);
        opts.put("lock-timeout", "300ms");
        try (LockingProvider p = provider(opts);
                Connection other = server.dataSource().getConnection()) {
            // Another session holds the advisory lock that key "collide" maps to, as an unrelated
            // key with the same 64-bit hash (or an application's own advisory lock) would.
            try (PreparedStatement ps = other.prepareStatement("SELECT pg_advisory_lock(hashtextextended(?, 0))")) {
                ps.setString(1, "collide");
                ps.execute();
            }
            AcquireResult blocked = p.tryAcquire(new AcquireRequest(List.of("collide"), "A", null, null));
            assertInstanceOf(AcquireResult.Blocked.class, blocked, "busy for now, never granted past the serialiser");
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    p.tryAcquire(new AcquireRequest(List.of("unrelated"), "A", null, null)),
                    "other keys are not affected");
            CompletableFuture<AcquireResult> waiting = CompletableFuture.supplyAsync(() -> {
                try (LockingProvider b = provider(opts)) {
                    return b.tryAcquire(new AcquireRequest(List.of("collide"), "B", null, null));
                }
            });
            try (PreparedStatement ps = other.prepareStatement("SELECT pg_advisory_unlock(hashtextextended(?, 0))")) {
                ps.setString(1, "collide");
                ps.execute();
            }
            AcquireResult r = waiting.get(30, TimeUnit.SECONDS);
            AcquireResult mine = p.tryAcquire(new AcquireRequest(List.of("collide"), "A", null, null));
            // Exactly one of the two owners has it, whatever the timing was.
            assertTrue(
                    r instanceof AcquireResult.Acquired ^ mine instanceof AcquireResult.Acquired,
                    "exactly one owner holds the key: B " + r + ", A " + mine);
            p.releaseAll("A");
            p.releaseAll("B");
        }
    }

    @Test
    @DisplayName("LISTEN wakes a waiter of another module at once, with polling all but off")
    void notificationWakesAWaiterOfAnotherModule() throws Exception {
        Map<String, Object> slowPoll = options(schema);
        slowPoll.put("poll-interval", "20s");
        slowPoll.put("waiter-expiry", "60s");
        assertHandOverIsNotified(slowPoll, slowPoll);
    }

    @Test
    @DisplayName("statements are prepared on the server on a direct connection, never through PgBouncer")
    void serverPreparedStatementsOnlyOnDirectSessions() {
        Map<String, Object> direct = options(schema);
        Map<String, Object> pooled =
                TestModules.options(server, PgBouncerServer.shared().jdbcUrl(), schema);
        pooled.put("notifications", "poll");
        for (Map<String, Object> opts : List.of(direct, pooled)) {
            try (PostgresLockingProvider p = (PostgresLockingProvider) provider(opts)) {
                String key = "prepared-" + System.nanoTime();
                // More calls than pgjdbc's cache needs to switch to a named statement, on one pool.
                for (int i = 0; i < 10; i++) {
                    assertInstanceOf(
                            AcquireResult.Acquired.class,
                            p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
                    assertTrue(p.release(List.of(key), "A"));
                }
                assertEquals(opts == direct, p.serverPrepared(), String.valueOf(opts.get("url")));
            }
        }
    }

    @Test
    @DisplayName("through PgBouncer, a direct listen-url still wakes waiters by notification")
    void pgBouncerWithDirectListenUrlIsNotified() throws Exception {
        PgBouncerServer bouncer = PgBouncerServer.shared();
        Map<String, Object> pooled = TestModules.options(server, bouncer.jdbcUrl(), schema);
        pooled.put("listen-url", server.jdbcUrl());
        pooled.put("poll-interval", "20s");
        pooled.put("waiter-expiry", "60s");
        assertHandOverIsNotified(pooled, pooled);
    }

    private static void assertHandOverIsNotified(Map<String, Object> holderOptions, Map<String, Object> waiterOptions)
            throws Exception {
        String key = "notify-" + System.nanoTime();
        try (LockingModule holder = TestModules.module(holderOptions);
                LockingModule waiter = TestModules.module(waiterOptions)) {
            holder.acquire(key, LockOptions.defaults().owner("H"));
            CompletableFuture<Long> got = CompletableFuture.supplyAsync(() -> {
                waiter.acquire(key, LockOptions.defaults().owner("W").timeout(Duration.ofSeconds(30)));
                return System.nanoTime();
            });
            sleep(1500); // parked, and its first poll is 20 s away
            assertFalse(got.isDone());
            long released = System.nanoTime();
            assertTrue(holder.release(key, LockOptions.defaults().owner("H")));
            long millis =
                    Duration.ofNanos(got.get(30, TimeUnit.SECONDS) - released).toMillis();
            // Generous: polling would take ~18 s more.
            assertTrue(millis < 5000, "hand-over took " + millis + " ms: the notification did not arrive");
            assertTrue(waiter.release(key, LockOptions.defaults().owner("W")));
        }
    }

    @Test
    @DisplayName("an application DataSource is used, even with auto-commit off, and is not closed")
    void applicationDataSourceIsUsedAndNotClosed() throws Exception {
        HikariConfig config = TestModules.appPoolConfig(server);
        config.setAutoCommit(false);
        config.setMaximumPoolSize(3);
        config.addDataSourceProperty("ApplicationName", "app-pool-test");
        try (HikariDataSource appPool = new HikariDataSource(config)) {
            Map<String, Object> opts = new HashMap<>();
            opts.put("schema", schema);
            try (LockingModule m = LockingModule.builder()
                    .config(TestModules.config(opts).withFallback(com.typesafe.config.ConfigFactory.load()))
                    .dataSource("pg", appPool)
                    .build()) {
                Lease lease = m.acquire(
                        List.of("ds-a", "ds-b"), LockOptions.defaults().owner("A"));
                assertEquals(2, lease.keys().size());
                assertEquals(
                        List.of(),
                        query("SELECT state FROM pg_stat_activity WHERE application_name = 'app-pool-test'"
                                + " AND state LIKE 'idle in transaction%'"),
                        "no transaction left open on the application's connections");
                assertTrue(m.release(
                        List.of("ds-a", "ds-b"), LockOptions.defaults().owner("A")));
            }
            assertFalse(appPool.isClosed(), "the application's pool is still open");
            try (Connection c = appPool.getConnection()) {
                assertTrue(c.isValid(2));
            }
        }
    }

    @Test
    @DisplayName("synchronous-commit = off locks like the durable mode and leaves no setting on the connection")
    void asynchronousCommitLocksAlikeAndIsTransactionLocal() throws Exception {
        HikariConfig config = TestModules.appPoolConfig(server);
        config.setMaximumPoolSize(1); // the module's calls and the check below share one connection
        try (HikariDataSource appPool = new HikariDataSource(config)) {
            Map<String, Object> opts = new HashMap<>();
            opts.put("schema", schema);
            opts.put("synchronous-commit", "off");
            opts.put("notifications", "poll");
            try (LockingModule m = LockingModule.builder()
                    .config(TestModules.config(opts).withFallback(com.typesafe.config.ConfigFactory.load()))
                    .dataSource("pg", appPool)
                    .build()) {
                LockOptions a = LockOptions.defaults().owner("A").expire(Duration.ofSeconds(30));
                LockOptions b = LockOptions.defaults().owner("B");
                long first = m.acquire(List.of("async-1", "async-2"), a).fencingToken("async-1");
                assertThrows(LockingException.class, () -> m.acquire("async-1", b));
                assertTrue(m.release(List.of("async-1", "async-2"), a));
                assertTrue(m.acquire("async-1", b).fencingToken("async-1") > first);
                assertEquals(1, m.releaseAll(b));
                assertEquals("done", m.execute("async-1", lock -> "done"));
                try (Connection c = appPool.getConnection();
                        Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery("SHOW synchronous_commit")) {
                    rs.next();
                    assertEquals("on", rs.getString(1), "the setting ended with each call's transaction");
                }
            }
        }
        Map<String, Object> bad = options(schema);
        bad.put("synchronous-commit", "sometimes");
        LockingConfigurationException e =
                assertThrows(LockingConfigurationException.class, () -> TestModules.module(bad));
        assertTrue(e.getMessage().contains("synchronous-commit must be on, grants or off"), e.getMessage());
    }

    @Test
    @DisplayName("synchronous-commit: on waits for every flush, grants (the default) skips it only for the"
            + " release of a leased lock and a refused acquire, off for every call")
    void synchronousCommitModesDecideWhichCommitsWaitForTheFlush() throws Exception {
        // Each call's transaction as it commits: the provider's statement and the synchronous_commit
        // it commits with, read on the same connection just before the provider's commit (the pool
        // runs with auto-commit off, so the provider commits itself).
        List<String> grants = List.of(
                "locking_try_acquire on",
                "locking_try_acquire off", // refused: decides no ownership
                "locking_release off",
                "locking_try_acquire on",
                "locking_release on");
        assertEquals(grants, commitsIn(null, "sc-default-"), "the default is grants");
        assertEquals(grants, commitsIn("grants", "sc-grants-"));
        assertEquals(
                List.of(
                        "locking_try_acquire on",
                        "locking_try_acquire on",
                        "locking_release on",
                        "locking_try_acquire on",
                        "locking_release on"),
                commitsIn("on", "sc-on-"));
        assertEquals(
                List.of(
                        "locking_try_acquire off",
                        "locking_try_acquire off",
                        "locking_release off",
                        "locking_try_acquire off",
                        "locking_release off"),
                commitsIn("off", "sc-off-"));
    }

    /** Takes and frees a leased then an unleased lock; returns what each commit ran with. */
    private static List<String> commitsIn(String mode, String prefix) throws Exception {
        HikariConfig config = TestModules.appPoolConfig(server);
        config.setAutoCommit(false);
        config.setMaximumPoolSize(2);
        List<String> commits = java.util.Collections.synchronizedList(new ArrayList<>());
        try (HikariDataSource appPool = new HikariDataSource(config)) {
            Map<String, Object> opts = new HashMap<>();
            opts.put("schema", schema);
            opts.put("notifications", "poll");
            if (mode != null) opts.put("synchronous-commit", mode);
            try (LockingModule m = LockingModule.builder()
                    .config(TestModules.config(opts).withFallback(com.typesafe.config.ConfigFactory.load()))
                    .dataSource("pg", CommitProbe.wrap(appPool, commits))
                    .build()) {
                LockOptions leased = LockOptions.defaults().owner("A").expire(Duration.ofSeconds(30));
                LockOptions unleased = LockOptions.defaults().owner("B");
                commits.clear(); // the provider's first look at the schema
                m.acquire(prefix + "leased", leased);
                assertThrows(
                        LockAcquisitionException.class,
                        () -> m.acquire(
                                prefix + "leased",
                                LockOptions.defaults().owner("C").timeout(Duration.ZERO)));
                assertTrue(m.release(prefix + "leased", leased));
                m.acquire(prefix + "unleased", unleased);
                assertTrue(m.release(prefix + "unleased", unleased));
            }
        }
        return List.copyOf(commits);
    }
}
