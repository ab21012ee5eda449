package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.Lease;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.PrivatePostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Faults done for real: killed sessions, a restarted server, a lease taken behind the job's back. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PostgresFaultTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "faults");
    }

    private static LockingModule module() {
        return TestModules.module(TestModules.options(server, server.jdbcUrl(), schema));
    }

    private static LockOptions owner(String name) {
        return LockOptions.defaults().owner(name);
    }

    @Test
    @DisplayName("after pg_terminate_backend of every provider session, the next call succeeds")
    void killedConnectionsDoNotBreakTheNextCall() throws Exception {
        // Registrations of this test's own, so that only their sessions are killed on the shared server.
        String id = "kill-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        String otherId = "other-" + java.util.UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> options = TestModules.options(server, server.jdbcUrl(), schema);
        try (LockingModule m = TestModules.module(options, id);
                LockingModule other = TestModules.module(options, otherId)) {
            LockOptions a = owner("A").provider("lp_" + id);
            LockOptions b = owner("B").provider("lp_" + otherId);
            m.acquire("kill-k", a);
            int killed = killSessions(id) + killSessions(otherId);
            assertTrue(killed >= 2, "killed the pools' and the listeners' sessions, " + killed);
            // At once, on connections the pool believes are fine.
            assertThrows(LockAcquisitionException.class, () -> other.acquire("kill-k", b));
            assertTrue(m.release("kill-k", a));
            m.acquire("kill-k", a);
            killSessions(id);
            killSessions(otherId);
            // A waiter in the other module still gets the key once it is released.
            CompletableFuture<Lease> waiter =
                    CompletableFuture.supplyAsync(() -> other.acquire("kill-k", b.timeout(Duration.ofSeconds(30))));
            Thread.sleep(300);
            assertTrue(m.release("kill-k", a));
            assertEquals(List.of("kill-k"), waiter.get(30, TimeUnit.SECONDS).keys());
            assertTrue(other.release("kill-k", b));
        }
    }

    /** Kills the pool's and the listener's sessions of registration {@code id}, and nothing else. */
    private static int killSessions(String id) {
        return server.terminateSessions("dev.locking lp_" + id)
                + server.terminateSessions("dev.locking listener lp_" + id);
    }

    @Test
    @DisplayName(
            "a crash and restart of the server fails calls clearly during the outage; held locks and token order survive it")
    void restartWhileLocksAreHeld() {
        // A private server: a restart of the shared one would disturb every other test using it.
        try (PrivatePostgres pg = PrivatePostgres.start()) {
            Map<String, Object> options = new java.util.HashMap<>();
            options.put("url", pg.jdbcUrl());
            options.put("user", pg.user());
            restartWhileLocksAreHeld(pg, options);
        }
    }

    private static void restartWhileLocksAreHeld(PrivatePostgres pg, Map<String, Object> options) {
        try (LockingModule m = TestModules.module(options)) {
            m.migrate();
            Lease permanent = m.acquire("restart-a", owner("A"));
            Lease leased = m.acquire("restart-b", owner("A").expire(Duration.ofMinutes(5)));
            List<Throwable> duringOutage = new ArrayList<>();
            pg.restart(Duration.ofSeconds(1), () -> {
                long start = System.nanoTime();
                try {
                    m.acquire("restart-c", owner("A"));
                } catch (RuntimeException e) {
                    duringOutage.add(e);
                }
                long tookMs = Duration.ofNanos(System.nanoTime() - start).toMillis();
                assertTrue(tookMs < 15_000, "a call during the outage took " + tookMs + " ms");
            });
            assertEquals(1, duringOutage.size(), "the call during the outage failed");
            awaitAcceptingConnections(pg);
            Throwable e = duringOutage.get(0);
            assertTrue(e instanceof LockingException, "a LockingException, not " + e);
            assertTrue(e.getMessage().contains("lp_pg"), e.getMessage());

            // The locks held across the restart are still held, never handed out twice.
            assertThrows(LockAcquisitionException.class, () -> m.acquire("restart-a", owner("B")));
            assertThrows(LockAcquisitionException.class, () -> m.acquire("restart-b", owner("B")));
            Lease again = m.acquire("restart-a", owner("A"));
            assertTrue(again.fencingToken("restart-a") > permanent.fencingToken("restart-a"), "tokens still grow");
            assertTrue(m.release(List.of("restart-a", "restart-b"), owner("A")));
            Lease next = m.acquire("restart-b", owner("B"));
            assertTrue(next.fencingToken("restart-b") > leased.fencingToken("restart-b"));
            assertTrue(m.release("restart-b", owner("B")));
        }
    }

    /** Waits until the restarted server has finished recovery and takes connections again. */
    private static void awaitAcceptingConnections(PrivatePostgres pg) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                pg.query("SELECT 1");
                return;
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline) throw e;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    @Test
    @DisplayName("a lease taken over in the database while execute runs turns isLost() true")
    void leaseTakenBehindTheJobsBackIsLost() {
        try (LockingModule m = module()) {
            LockLostException lost = assertThrows(
                    LockLostException.class,
                    () -> m.execute(
                            "lost-k",
                            lock -> {
                                assertFalse(lock.isLost());
                                // An operator (or a bug elsewhere) hands the row to someone else.
                                server.execute("UPDATE " + schema + ".locking SET owner_id = 'intruder'"
                                        + " WHERE id = 'lost-k'");
                                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                                while (!lock.isLost() && System.nanoTime() < deadline) Thread.sleep(20);
                                assertTrue(lock.isLost(), "a renewal noticed the loss");
                                return "done";
                            },
                            LockOptions.defaults().expire(Duration.ofMillis(600))));
            assertEquals(List.of("lost-k"), lost.keys());
            assertTrue(m.release("lost-k", owner("intruder")), "execute did not free the intruder's lock");
        }
    }

    @Test
    @DisplayName("no connection is busy and no transaction open while execute's job runs")
    void executeHoldsNoConnectionWhileTheJobRuns() {
        try (LockingModule m = module()) {
            List<String> busy = m.execute(
                    "idle-k",
                    lock -> {
                        List<String> states = new ArrayList<>();
                        try (var c = server.dataSource().getConnection();
                                var st = c.createStatement();
                                var rs = st.executeQuery("SELECT state FROM pg_stat_activity WHERE application_name"
                                        + " = 'dev.locking lp_pg' AND state <> 'idle'")) {
                            while (rs.next()) states.add(rs.getString(1));
                        } catch (java.sql.SQLException e) {
                            throw new AssertionError(e);
                        }
                        return states;
                    },
                    LockOptions.defaults().expire(Duration.ofSeconds(30)));
            assertEquals(List.of(), busy, "sessions of the provider busy during the job");
        }
    }
}
