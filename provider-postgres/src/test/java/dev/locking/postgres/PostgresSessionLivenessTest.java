package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingConfigurationException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.PgBouncerServer;
import dev.locking.testkit.servers.PostgresServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session mode's liveness for real: a holder that dies frees its keys at once, one that freezes or
 * is cut off by the network frees them within session-timeout, a session the server ends reports
 * its locks lost; and a transaction pooler is refused at start.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresSessionLivenessTest {
    private static final PostgresServer server = PostgresServer.shared();
    /** Short, so that the bound is tested quickly; the default is 10 s. */
    private static final Duration SESSION_TIMEOUT = Duration.ofSeconds(2);

    private static String schema;
    private final List<AutoCloseable> opened = new ArrayList<>();
    private final List<Process> children = new ArrayList<>();

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "liveness");
    }

    @AfterEach
    void closeAll() throws Exception {
        for (Process p : children) p.destroyForcibly();
        for (int i = opened.size() - 1; i >= 0; i--) opened.get(i).close();
    }

    private static String key(String name) {
        return name + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private LockingModule module(String url, String id) {
        Map<String, Object> options = TestModules.options(server, url, schema);
        options.put("mode", "session");
        options.put("session-timeout", SESSION_TIMEOUT.toMillis() + "ms");
        LockingModule m = TestModules.module(options, id);
        opened.add(m);
        return m;
    }

    /** A child JVM that holds {@code k}; returns once it printed that it holds it. */
    private Process holder(String k, Duration lease) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(
                        java,
                        "-Xmx128m",
                        "-cp",
                        System.getProperty("java.class.path"),
                        SessionHolderMain.class.getName(),
                        server.jdbcUrl(),
                        server.user(),
                        schema,
                        SESSION_TIMEOUT.toMillis() + "ms",
                        k,
                        Long.toString(lease.toMillis()))
                .redirectErrorStream(true)
                .start();
        children.add(p);
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = CompletableFuture.supplyAsync(() -> {
                    try {
                        for (String l; (l = out.readLine()) != null; ) if (l.startsWith("HELD ")) return l;
                        return null;
                    } catch (java.io.IOException e) {
                        return null;
                    }
                })
                .get(60, TimeUnit.SECONDS);
        assertTrue(line != null, "the child never held the key");
        return p;
    }

    private static void signal(String signal, long pid) throws Exception {
        Process p = new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
                .inheritIO()
                .start();
        assertEquals(0, p.waitFor(), "kill -" + signal + " " + pid);
    }

    /** Takes {@code k} within {@code limit} and returns how long it took. */
    private static long takeWithin(LockingModule m, String k, Duration limit) {
        long start = System.nanoTime();
        m.acquire(k, LockOptions.defaults().owner("next").timeout(limit));
        long took = Duration.ofNanos(System.nanoTime() - start).toMillis();
        assertTrue(m.release(k, LockOptions.defaults().owner("next")));
        return took;
    }

    @Test
    @DisplayName("a killed holder's key is free at once: the server sees its session's socket close")
    void killedHolderFreesAtOnce() throws Exception {
        LockingModule other = module(server.jdbcUrl(), "other");
        String k = key("killed");
        Process child = holder(k, Duration.ZERO);
        assertThrows(
                LockAcquisitionException.class,
                () -> other.acquire(k, LockOptions.defaults().owner("next")));
        signal("KILL", child.pid());
        long took = takeWithin(other, k, Duration.ofSeconds(20));
        assertTrue(took < SESSION_TIMEOUT.toMillis(), "free after " + took + " ms, not at once");
    }

    @Test
    @DisplayName("a frozen holder's key is free within session-timeout, past its lease")
    void frozenHolderFreesWithinTheBound() throws Exception {
        LockingModule other = module(server.jdbcUrl(), "other");
        String k = key("frozen");
        Process child = holder(k, Duration.ofSeconds(60));
        signal("STOP", child.pid());
        try {
            long took = takeWithin(other, k, Duration.ofSeconds(20));
            assertTrue(
                    took <= SESSION_TIMEOUT.plusSeconds(2).toMillis(),
                    "free " + took + " ms after the freeze, bound " + SESSION_TIMEOUT);
        } finally {
            signal("CONT", child.pid());
        }
    }

    @Test
    @DisplayName("a holder cut off by a black-holed connection: its key is free within session-timeout, and it"
            + " learns the lock is lost")
    void blackHoledHolderFreesWithinTheBound() throws Exception {
        FaultyProxy proxy = FaultyProxy.start("session", server.host(), server.port());
        opened.add(proxy);
        LockingModule holder =
                module("jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + server.database(), "cut");
        LockingModule other = module(server.jdbcUrl(), "other");
        String k = key("cut");
        LockOptions a = LockOptions.defaults().owner("A");
        holder.acquire(k, a);
        proxy.blackHole();
        long took = takeWithin(other, k, Duration.ofSeconds(20));
        assertTrue(
                took <= SESSION_TIMEOUT.plusSeconds(2).toMillis(),
                "free " + took + " ms after the partition, bound " + SESSION_TIMEOUT);
        assertFalse(holder.release(k, a), "the holder's release of a lock it lost answers false");
        proxy.heal();
    }

    @Test
    @DisplayName("pg_terminate_backend of a session: isLost() turns true, later releases answer false, keys free")
    void terminatedSessionReportsItsLocksLost() throws Exception {
        LockingModule locking = module(server.jdbcUrl(), "terminated");
        LockingModule other = module(server.jdbcUrl(), "other");
        String k = key("execute"), j = key("acquired");
        LockOptions a = LockOptions.defaults().owner("A");
        ExecutionException failure =
                assertThrows(ExecutionException.class, () -> CompletableFuture.supplyAsync(() -> locking.execute(
                                k,
                                lock -> {
                                    locking.acquire(j, a);
                                    assertTrue(terminateSessions("terminated") > 0);
                                    long deadline = System.nanoTime()
                                            + Duration.ofSeconds(20).toNanos();
                                    while (!lock.isLost() && System.nanoTime() < deadline) sleep(20);
                                    assertTrue(lock.isLost(), "isLost() stayed false");
                                    return "done";
                                },
                                LockOptions.defaults().expire(Duration.ofSeconds(3))))
                        .get(60, TimeUnit.SECONDS));
        assertInstanceOf(LockLostException.class, failure.getCause());
        assertFalse(locking.release(j, a), "a lock lost with its session is not released");
        takeWithin(other, j, Duration.ofSeconds(1));
        takeWithin(other, k, Duration.ofSeconds(1));
        // New locks go to a new session.
        locking.acquire(j, a);
        assertTrue(locking.release(j, a));
    }

    @Test
    @DisplayName("behind a transaction pooler session mode is refused at start, naming mode = table and a direct url")
    void transactionPoolerIsRefused() {
        PgBouncerServer bouncer = PgBouncerServer.shared();
        Map<String, Object> options = TestModules.options(bouncer.postgres(), bouncer.jdbcUrl(), schema);
        options.put("mode", "session");
        RuntimeException refused = assertThrows(
                RuntimeException.class, () -> TestModules.module(options).close());
        String message = messages(refused);
        assertTrue(message.contains("mode = \"table\"") && message.contains("pooler"), message);
        assertTrue(message.contains("direct"), message);
    }

    @Test
    @DisplayName("bad session options are each named")
    void badSessionOptionsAreNamed() {
        Map<String, Object> options = TestModules.options(server, server.jdbcUrl(), schema);
        options.put("mode", "rows");
        options.put("sessions", 0);
        options.put("session-timeout", "1s");
        LockingConfigurationException e = assertThrows(
                LockingConfigurationException.class, () -> PostgresSettings.parse(options, "p.options", false));
        assertTrue(e.getMessage().contains("p.options.mode must be table or session"), e.getMessage());
        assertTrue(e.getMessage().contains("p.options.sessions must be a whole number"), e.getMessage());
        assertTrue(e.getMessage().contains("p.options.session-timeout must be at least"), e.getMessage());
    }

    private static String messages(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause())
            all.append(t.getMessage()).append(" | ");
        return all.toString();
    }

    private static int terminateSessions(String registrationId) {
        try (Connection c = server.dataSource().getConnection();
                PreparedStatement ps =
                        c.prepareStatement("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                + " WHERE application_name = ?")) {
            ps.setString(1, "dev.locking session lp_" + registrationId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
