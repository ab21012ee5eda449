package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session mode's waiter marks (docs/postgres.md#modes): a waiter marks its keys on a session of its
 * process before it joins their queues, so that an uncontended acquire needs no look at the queue
 * and a release tells other processes' waiters exactly when there are some. Polling is set to a
 * minute here, so a waiter of another process gets a released key in time only if the release
 * notified it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresSessionMarksTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static final Duration PROMPTLY = Duration.ofSeconds(5);
    private static String schema;

    private LockingModule holder;
    private LockingModule waiter;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "marks");
    }

    @AfterEach
    void close() {
        if (holder != null) holder.close();
        if (waiter != null) waiter.close();
    }

    private static LockingModule module(String id) {
        Map<String, Object> options = TestModules.options(server, server.jdbcUrl(), schema);
        options.put("mode", "session");
        options.put("poll-interval", "60s");
        options.put("waiter-expiry", "180s");
        return TestModules.module(options, id);
    }

    private static String key() {
        return "marks-" + UUID.randomUUID();
    }

    @Test
    @DisplayName(
            "a release wakes another process's waiter by notification, and the waiter's mark goes when it is served")
    void releaseNotifiesAMarkedWaiterOfAnotherProcess() throws Exception {
        holder = module("marks_holder");
        waiter = module("marks_waiter");
        String k = key();
        LockOptions a = LockOptions.defaults().owner("A");
        LockOptions b = LockOptions.defaults().owner("B").timeout(Duration.ofSeconds(40));
        holder.acquire(k, a);
        CompletableFuture<Long> served = CompletableFuture.supplyAsync(() -> {
            waiter.acquire(k, b);
            return System.nanoTime();
        });
        awaitMarks("marks_waiter", n -> n == 1, "the waiter marks its key while it waits");
        long released = System.nanoTime();
        assertTrue(holder.release(k, a));
        long tookMillis = (served.get(PROMPTLY.toSeconds(), TimeUnit.SECONDS) - released) / 1_000_000;
        assertTrue(tookMillis < PROMPTLY.toMillis(), "served " + tookMillis + " ms after the release");
        awaitMarks("marks_waiter", n -> n == 0, "a served waiter gives its mark up");
        assertTrue(waiter.release(k, b));
    }

    @Test
    @DisplayName("a waiter that times out gives its mark up, and the key's uncontended pairs go on")
    void waiterThatGivesUpGivesItsMarkUp() {
        holder = module("marks_holder");
        waiter = module("marks_waiter");
        String k = key();
        LockOptions a = LockOptions.defaults().owner("A");
        holder.acquire(k, a);
        assertThrows(
                LockTimeoutException.class,
                () -> waiter.acquire(k, LockOptions.defaults().owner("B").timeout(Duration.ofMillis(500))));
        awaitMarks("marks_waiter", n -> n == 0, "a waiter that timed out gives its mark up");
        assertTrue(holder.release(k, a));
        for (int i = 0; i < 20; i++) {
            LockOptions c = LockOptions.defaults().owner("C" + i);
            waiter.acquire(k, c);
            assertTrue(waiter.release(k, c));
        }
    }

    @Test
    @DisplayName("a mark lost with its session is taken again, so a later release still wakes the waiter")
    void markLostWithItsSessionIsTakenAgain() throws Exception {
        holder = module("marks_holder");
        waiter = module("marks_waiter");
        String k = key();
        LockOptions a = LockOptions.defaults().owner("A");
        LockOptions b = LockOptions.defaults().owner("B").timeout(Duration.ofSeconds(60));
        holder.acquire(k, a);
        CompletableFuture<Long> served = CompletableFuture.supplyAsync(() -> {
            waiter.acquire(k, b);
            return System.nanoTime();
        });
        awaitMarks("marks_waiter", n -> n == 1, "the waiter marks its key while it waits");
        assertEquals(1, terminateMarkHolders("marks_waiter"));
        // The waiter's process finds its session gone (at its next keepalive at the latest), wakes
        // the waiter, which marks again on a new session.
        awaitMarks("marks_waiter", n -> n == 1, "the waiter marks its key again on a new session");
        long released = System.nanoTime();
        assertTrue(holder.release(k, a));
        long tookMillis = (served.get(PROMPTLY.toSeconds(), TimeUnit.SECONDS) - released) / 1_000_000;
        assertTrue(tookMillis < PROMPTLY.toMillis(), "served " + tookMillis + " ms after the release");
        assertTrue(waiter.release(k, b));
    }

    @Test
    @DisplayName("within a process a release hands the key to the first waiter in line without freeing it:"
            + " nothing is notified; between processes the release notifies")
    void releaseHandsTheKeyToAWaiterOfItsOwnProcess() throws Exception {
        holder = module("marks_holder");
        waiter = module("marks_waiter");
        try (Connection listen = server.dataSource().getConnection()) {
            listen.createStatement().execute("LISTEN \"locking_" + schema + "\"");
            org.postgresql.PGConnection pg = listen.unwrap(org.postgresql.PGConnection.class);
            // Within one process: handed over, so no notification for the key.
            String k = key();
            servedAfterRelease(holder, holder, k);
            assertEquals(0, notificationsFor(listen, pg, k), "an in-process hand-over notifies nobody");
            // Between processes: the key is released and the waiter's process is told.
            String j = key();
            servedAfterRelease(holder, waiter, j);
            assertTrue(notificationsFor(listen, pg, j) > 0, "a release with a waiter elsewhere notifies");
        }
    }

    /** A holds {@code k} in {@code from}; B waits in {@code to} until marked; A releases; B is served promptly. */
    private static void servedAfterRelease(LockingModule from, LockingModule to, String k) throws Exception {
        LockOptions a = LockOptions.defaults().owner("A").expire(Duration.ofSeconds(30));
        LockOptions b =
                LockOptions.defaults().owner("B").expire(Duration.ofSeconds(30)).timeout(Duration.ofSeconds(40));
        from.acquire(k, a);
        CompletableFuture<Void> served = CompletableFuture.runAsync(() -> to.acquire(k, b));
        String id = to == from ? "marks_holder" : "marks_waiter";
        awaitMarks(id, n -> n == 1, "the waiter marks its key while it waits");
        assertTrue(from.release(k, a));
        served.get(PROMPTLY.toSeconds(), TimeUnit.SECONDS);
        assertTrue(to.release(k, b));
    }

    /** Notifications with payload {@code key} that reached {@code listen}, after half a second for stragglers. */
    private static int notificationsFor(Connection listen, org.postgresql.PGConnection pg, String key)
            throws SQLException {
        sleep(500);
        int n = 0;
        try (java.sql.Statement st = listen.createStatement()) {
            st.execute("SELECT 1"); // reads what has arrived
        }
        org.postgresql.PGNotification[] got = pg.getNotifications(100);
        if (got != null) for (org.postgresql.PGNotification g : got) if (key.equals(g.getParameter())) n++;
        return n;
    }

    /** Waits up to 20 s for the marks held by registration {@code id}'s sessions to satisfy {@code ok}. */
    private static void awaitMarks(String id, IntPredicate ok, String what) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        int marks;
        while (!ok.test(marks = marks(id)) && System.nanoTime() < deadline) sleep(50);
        assertTrue(ok.test(marks), what + ": " + marks + " mark(s) held");
    }

    /** Marks held: shared advisory locks in the two-integer key space on the registration's sessions. */
    private static int marks(String id) {
        return count(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype ="
                        + " 'advisory' AND l.objsubid = 2 AND l.mode = 'ShareLock' AND l.granted AND a.application_name = ?",
                id);
    }

    /** Ends the sessions holding the registration's marks, only those, and waits until they have gone. */
    private static int terminateMarkHolders(String id) {
        return count(
                "SELECT count(pg_terminate_backend(pid, 10000)) FROM (SELECT DISTINCT l.pid FROM pg_locks l JOIN"
                        + " pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objsubid = 2"
                        + " AND a.application_name = ?) m",
                id);
    }

    /** The count {@code sql} answers for the sessions of registration {@code id}. */
    private static int count(String sql, String id) {
        try (Connection c = server.dataSource().getConnection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, "dev.locking session lp_" + id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    @Test
    @DisplayName("marks are counted per waiter: two waiters of one key hold two, and both go")
    void twoWaitersHoldTwoMarks() throws Exception {
        holder = module("marks_holder");
        waiter = module("marks_waiter");
        String k = key();
        LockOptions a = LockOptions.defaults().owner("A");
        holder.acquire(k, a);
        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
            LockOptions b = LockOptions.defaults().owner("B1").timeout(Duration.ofSeconds(40));
            waiter.acquire(k, b);
            assertTrue(waiter.release(k, b));
        });
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> {
            LockOptions b = LockOptions.defaults().owner("B2").timeout(Duration.ofSeconds(40));
            waiter.acquire(k, b);
            assertTrue(waiter.release(k, b));
        });
        awaitMarks("marks_waiter", n -> n >= 1, "the waiters mark their key");
        // Two waiters on one session are one pg_locks row (the session holds the lock twice); on two
        // sessions they are two. Either way every mark goes once both are served.
        assertTrue(holder.release(k, a));
        first.get(PROMPTLY.toSeconds() * 2, TimeUnit.SECONDS);
        second.get(PROMPTLY.toSeconds() * 2, TimeUnit.SECONDS);
        awaitMarks("marks_waiter", n -> n == 0, "both waiters give their marks up");
        assertEquals(0, marks("marks_holder"), "the holder never waited");
    }
}
