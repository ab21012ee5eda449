package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.LockingProvider;
import dev.locking.testkit.TestProviderContext;
import dev.locking.testkit.servers.PostgresServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The release of a key hands it to the first waiter in line, in its own transaction, and
 * tells that waiter's process in a notification. Driven through the SPI (what the store holds after
 * each step) and once through {@link LockingModule} (the waiter runs on the notification alone).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresHandOverTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static final Duration LEASE = Duration.ofSeconds(30);
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "handover");
    }

    /** The lock row of {@code key}: owner, grant id, fencing token, expiration; null when free. */
    private record Row(String owner, String grantId, long token, Instant expiration) {}

    private static Row row(String key) {
        try (Connection c = server.dataSource().getConnection();
                PreparedStatement ps =
                        c.prepareStatement("SELECT owner_id, grant_id, fencing_token, expiration FROM " + schema
                                + ".locking WHERE id = ? AND (expiration IS NULL OR expiration > clock_timestamp())")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) return null;
                OffsetDateTime expiration = rs.getObject(4, OffsetDateTime.class);
                return new Row(
                        rs.getString(1),
                        rs.getString(2),
                        rs.getLong(3),
                        expiration == null ? null : expiration.toInstant());
            }
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** The waiters in the queue of {@code key}, first in line first. */
    private static List<String> queued(String key) {
        try (Connection c = server.dataSource().getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT waiter_id FROM " + schema + ".locking_waiter WHERE lock_id = ? ORDER BY ticket")) {
            ps.setString(1, key);
            List<String> waiters = new java.util.ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) waiters.add(rs.getString(1));
            }
            return waiters;
        } catch (SQLException e) {
            throw new AssertionError(e);
        }
    }

    /** Waits (10 s at most) for one caller to be parked in the queue of {@code key}; its waiter id. */
    private static String awaitParked(String key) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (queued(key).isEmpty() && System.nanoTime() < until) Thread.sleep(5);
        List<String> waiters = queued(key);
        assertEquals(1, waiters.size(), "one waiter parked in the queue of " + key + ": " + waiters);
        return waiters.get(0);
    }

    private static Map<String, Object> options() {
        return TestModules.options(server, server.jdbcUrl(), schema);
    }

    /** Options under which a parked waiter polls only every 20 s (and stays in line meanwhile). */
    private static Map<String, Object> slowPollOptions() {
        Map<String, Object> options = new java.util.HashMap<>(options());
        options.put("poll-interval", "20s");
        options.put("waiter-expiry", "60s");
        return options;
    }

    private static LockingProvider provider(TestProviderContext context) {
        return new PostgresLockingProviderFactory().create(context);
    }

    private static AcquireResult attempt(
            LockingProvider p, List<String> keys, String owner, Duration lease, String waiter) {
        return p.tryAcquire(new AcquireRequest(keys, owner, lease, waiter));
    }

    @Test
    @DisplayName("a release hands the key to the live head of its queue parked in the same process, and says so in"
            + " its reply")
    void releaseHandsTheKeyToTheHeadOfItsQueue() throws InterruptedException {
        TestContext context = new TestContext(options());
        context.takeGrants = true;
        try (LockingProvider p = provider(context)) {
            String k = "handed";
            assertInstanceOf(AcquireResult.Acquired.class, attempt(p, List.of(k), "A", LEASE, null));
            assertInstanceOf(AcquireResult.Blocked.class, attempt(p, List.of(k), "W", Duration.ofSeconds(10), "w-1"));
            assertEquals(1, queued(k).size());

            Instant before = Instant.now();
            assertTrue(p.release(List.of(k), "A"));
            // Right after the release returned, before the waiter could have tried: its lock.
            Row handed = row(k);
            assertNotNull(handed, "the release left the key taken, for the waiter");
            assertEquals("W", handed.owner());
            assertEquals("w:w-1", handed.grantId());
            assertTrue(handed.expiration().isAfter(before.plusSeconds(9)), handed.toString());
            assertEquals(List.of(), queued(k), "the waiter left the queue with its grant");
            assertInstanceOf(AcquireResult.Blocked.class, attempt(p, List.of(k), "B", LEASE, null));

            TestProviderContext.HandedGrant told = context.grants.poll();
            assertNotNull(told, "the grant was handed to the parked waiter when the release returned");
            assertEquals("w-1", told.waiterId());
            assertEquals(Map.of(k, handed.token()), told.grant().fencingTokens());
            assertEquals(handed.expiration(), told.grant().expiresAt(), "the expiry, to the microsecond");
            assertTrue(p.release(List.of(k), "W"));
            assertNull(row(k));
        }
    }

    @Test
    @DisplayName("a waiter that missed the notification takes the key handed to it on its next attempt")
    void aWaiterFindsItsGrantOnItsNextAttempt() {
        try (LockingProvider p = provider(new TestContext(options()))) {
            String k = "missed";
            attempt(p, List.of(k), null, LEASE, null);
            assertInstanceOf(AcquireResult.Blocked.class, attempt(p, List.of(k), null, LEASE, "w-2"));
            assertTrue(p.release(List.of(k), null));
            Row handed = row(k);
            assertEquals("w:w-2", handed.grantId());

            // An anonymous lock is never re-entrant, yet this is the waiter's own grant.
            AcquireResult.Acquired taken =
                    assertInstanceOf(AcquireResult.Acquired.class, attempt(p, List.of(k), null, LEASE, "w-2"));
            assertEquals(Map.of(k, handed.token()), taken.fencingTokens());
            Row now = row(k);
            assertFalse(now.grantId().startsWith("w:"), "now the grant of that attempt: " + now);
            assertFalse(now.expiration().isBefore(handed.expiration()), "the lease counts again from the attempt");
            assertEquals(taken.expiresAt(), now.expiration());
            assertInstanceOf(AcquireResult.Blocked.class, attempt(p, List.of(k), null, LEASE, "w-other"));
            assertTrue(p.release(List.of(k), null));
        }
    }

    @Test
    @DisplayName("a waiter that gives up frees the key a release handed to it, and the next one is told")
    void aWaiterThatGivesUpFreesItsGrant() throws InterruptedException {
        TestContext context = new TestContext(options());
        try (LockingProvider p = provider(context)) {
            String k = "given-up";
            attempt(p, List.of(k), "A", LEASE, null);
            attempt(p, List.of(k), "W", LEASE, "w-3");
            attempt(p, List.of(k), "V", LEASE, "w-4");
            assertTrue(p.release(List.of(k), "A"));
            assertEquals("w:w-3", row(k).grantId());

            context.released.clear();
            p.leaveQueue(List.of(k), "w-3");
            assertNull(row(k), "the grant of a waiter that left is freed");
            assertEquals(k, context.released.poll(10, TimeUnit.SECONDS), "and the next waiter is woken");
            assertInstanceOf(AcquireResult.Acquired.class, attempt(p, List.of(k), "V", LEASE, "w-4"));
            assertTrue(p.release(List.of(k), "V"));
        }
    }

    @Test
    @DisplayName("no hand-over to a waiter without a lease, one waiting for several keys, or a stale one")
    void onlyALiveSingleKeyWaiterWithALeaseIsHandedTheKey() {
        try (LockingProvider p = provider(new TestContext(options()))) {
            // Without a lease: its process could die before picking the grant up, and nothing would end it.
            String k = "no-lease";
            attempt(p, List.of(k), "A", LEASE, null);
            attempt(p, List.of(k), "W", null, "w-5");
            assertTrue(p.release(List.of(k), "A"));
            assertNull(row(k), "free, reserved for the waiter's own attempt");
            assertInstanceOf(AcquireResult.Blocked.class, attempt(p, List.of(k), "B", LEASE, null));
            assertInstanceOf(AcquireResult.Acquired.class, attempt(p, List.of(k), "W", null, "w-5"));
            assertTrue(p.release(List.of(k), "W"));

            // Waiting for two keys: it must get both at once.
            String k1 = "multi-1", k2 = "multi-2";
            attempt(p, List.of(k1), "A", LEASE, null);
            attempt(p, List.of(k1, k2), "W", LEASE, "w-6");
            assertTrue(p.release(List.of(k1), "A"));
            assertNull(row(k1));
            assertNull(row(k2));
            assertInstanceOf(AcquireResult.Acquired.class, attempt(p, List.of(k1, k2), "W", LEASE, "w-6"));
            assertTrue(p.release(List.of(k1, k2), "W"));

            // Stale: its process stopped refreshing its place.
            String k3 = "stale";
            attempt(p, List.of(k3), "A", LEASE, null);
            attempt(p, List.of(k3), "W", LEASE, "w-7");
            server.execute("UPDATE " + schema + ".locking_waiter SET refreshed_at = refreshed_at - interval '1 hour'"
                    + " WHERE waiter_id = 'w-7'");
            assertTrue(p.release(List.of(k3), "A"));
            assertNull(row(k3));
            assertInstanceOf(AcquireResult.Acquired.class, attempt(p, List.of(k3), "B", LEASE, null));
            assertTrue(p.release(List.of(k3), "B"));
        }
    }

    @Test
    @DisplayName("a parked caller runs on the grant a release of its own process made, and is woken by a release of"
            + " another process")
    void aParkedCallerRunsOnTheGrantOrIsWoken() throws Exception {
        // No poll and no lease end to wake the waiter meanwhile: only the release's reply or the
        // notification can.
        Map<String, Object> options = slowPollOptions();
        try (LockingModule module = TestModules.module(options);
                LockingModule other = TestModules.module(options)) {
            handOver(module, module, "parked-here", true);
            handOver(other, module, "parked-there", false);
        }
    }

    /**
     * A caller of {@code waiting} parks for {@code k}, which {@code releasing} holds and releases;
     * the caller's job sees the row it runs under: the grant the release made ({@code handedOver}),
     * or the grant of its own attempt.
     */
    private static void handOver(LockingModule releasing, LockingModule waiting, String k, boolean handedOver)
            throws Exception {
        LockOptions holder = LockOptions.defaults().owner("A").expire(Duration.ofMinutes(5));
        releasing.acquire(k, holder);
        CompletableFuture<String> inside = CompletableFuture.supplyAsync(() -> waiting.execute(
                k,
                lock -> {
                    Row row = row(k);
                    return row.grantId() + " " + (row.token() == lock.fencingToken(k)) + " "
                            + row.owner().equals(lock.owner());
                },
                LockOptions.defaults().timeout(Duration.ofSeconds(30))));
        awaitParked(k);
        assertTrue(releasing.release(k, holder));
        String seen = inside.get(15, TimeUnit.SECONDS);
        // Its own attempt would have replaced the grant id "w:<waiter>" with that attempt's id.
        assertEquals(handedOver, seen.startsWith("w:"), seen);
        assertTrue(seen.endsWith(" true true"), "the job saw the grant's token and owner: " + seen);
        assertNull(row(k), "released after the job");
    }

    @Test
    @DisplayName("the release's reply hands the key to a waiter of the releasing process at once ")
    void theReleasingProcessHandsTheGrantOverFromTheReply() throws Exception {
        Map<String, Object> options = slowPollOptions();
        // No listener either: no notification can tell this process of the grant.
        options.put("notifications", "poll");
        TestContext context = new TestContext(options);
        context.takeGrants = true;
        try (LockingProvider p = provider(context)) {
            String k = "handed-in-reply";
            assertInstanceOf(AcquireResult.Acquired.class, attempt(p, List.of(k), "A", LEASE, null));
            assertInstanceOf(AcquireResult.Blocked.class, attempt(p, List.of(k), "W", LEASE, "w-reply"));
            assertTrue(p.release(List.of(k), "A"));
            // Handed over by the time release returned, from its reply.
            TestProviderContext.HandedGrant told = context.grants.poll();
            assertNotNull(told, "the grant was handed over before release returned");
            Row handed = row(k);
            assertEquals("w-reply", told.waiterId());
            assertEquals(Map.of(k, handed.token()), told.grant().fencingTokens());
            assertEquals(handed.expiration(), told.grant().expiresAt(), "the expiry, to the microsecond");
            assertTrue(p.release(List.of(k), "W"));
            assertNull(context.grants.poll(), "a release that hands nothing over hands nothing");
        }
        // Through the module: the parked caller runs long before its 20 s poll.
        try (LockingModule module = TestModules.module(options)) {
            handOver(module, module, "handed-in-reply-module", true);
        }
    }

    @Test
    @DisplayName("a waiter whose process died right after it queued keeps a released key no longer than waiter-expiry")
    void aDeadWaitersProcessKeepsTheKeyAtMostWaiterExpiry() throws Exception {
        Map<String, Object> options = new java.util.HashMap<>(options());
        options.put("waiter-expiry", "1s");
        options.put("poll-interval", "100ms");
        String k = "dead-waiter";
        try (LockingProvider holder = provider(new TestContext(options))) {
            assertInstanceOf(AcquireResult.Acquired.class, attempt(holder, List.of(k), "A", LEASE, null));
            // Another process queues a waiter with a long lease, and dies: it never tries again,
            // never leaves the queue.
            try (LockingProvider dying = provider(new TestContext(options))) {
                assertInstanceOf(
                        AcquireResult.Blocked.class, attempt(dying, List.of(k), "W", Duration.ofSeconds(60), "w-dead"));
            }
            assertTrue(holder.release(List.of(k), "A"));
            assertNull(row(k), "nothing handed to a waiter of another process");
            long released = System.nanoTime();
            // A live caller gets the key once the dead waiter's place has expired (1 s), not after
            // its 60 s lease.
            AcquireResult got = null;
            while (!(got instanceof AcquireResult.Acquired)
                    && System.nanoTime() - released < TimeUnit.SECONDS.toNanos(20)) {
                got = attempt(holder, List.of(k), "B", LEASE, "w-live");
                if (!(got instanceof AcquireResult.Acquired)) Thread.sleep(100);
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released);
            assertInstanceOf(AcquireResult.Acquired.class, got, "after " + millis + " ms");
            assertTrue(millis < 5000, "the live caller waited " + millis + " ms");
            assertTrue(holder.release(List.of(k), "B"));
        }
    }
}
