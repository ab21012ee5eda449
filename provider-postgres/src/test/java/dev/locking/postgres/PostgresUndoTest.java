package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.LockingProvider;
import dev.locking.testkit.servers.PostgresServer;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The SPI's undo on PostgreSQL: a call's grant id is stored with each key it took free, forgotten
 * when another call of the owner re-enters the key, and undo frees by it exactly what the call took.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PostgresUndoTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static TestContext context;
    private static LockingProvider provider;

    @BeforeAll
    static void start() {
        String schema = TestModules.migratedSchema(server, "undo");
        context = new TestContext(TestModules.options(server, server.jdbcUrl(), schema));
        provider = new PostgresLockingProviderFactory().create(context);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!((PostgresLockingProvider) provider).listening() && System.nanoTime() < deadline) sleep(20);
        assertTrue(((PostgresLockingProvider) provider).listening(), "the LISTEN connection is up");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @AfterAll
    static void stop() {
        if (provider != null) provider.close();
    }

    private static String key(String name) {
        return "undo-" + UUID.randomUUID().toString().substring(0, 8) + "-" + name;
    }

    private static String grant() {
        return UUID.randomUUID().toString();
    }

    private static AcquireResult acquire(List<String> keys, String owner, Duration lease, String grantId) {
        return provider.tryAcquire(new AcquireRequest(keys, owner, lease, null, null, grantId));
    }

    private static void assertFree(String key) {
        assertInstanceOf(
                AcquireResult.Acquired.class,
                acquire(List.of(key), "probe", null, grant()),
                key + " is free for another owner");
        assertTrue(provider.release(List.of(key), "probe"));
    }

    private static void assertHeld(String key) {
        assertInstanceOf(
                AcquireResult.Blocked.class, acquire(List.of(key), "probe", null, grant()), key + " is still held");
    }

    @Test
    @DisplayName("undo frees every key the call took, without a lease, anonymous or owned, and announces them")
    void undoFreesWhatTheCallTook() throws Exception {
        String a = key("a"), b = key("b"), anon = key("anon");
        String call = grant();
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(a, b), "A", null, call));
        String anonymousCall = grant();
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(anon), null, null, anonymousCall));
        context.released.clear();

        provider.undo(List.of(a, b), "A", call);
        provider.undo(List.of(anon), null, anonymousCall);

        assertFree(a);
        assertFree(b);
        assertFree(anon);
        Set<String> announced = new HashSet<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!announced.containsAll(Set.of(a, b, anon)) && System.nanoTime() < deadline) {
            String k = context.released.poll(100, TimeUnit.MILLISECONDS);
            if (k != null) announced.add(k);
        }
        assertTrue(announced.containsAll(Set.of(a, b, anon)), "undone keys are announced: " + announced);
    }

    @Test
    @DisplayName("undo leaves keys of another owner, another call, or re-entered since; and is idempotent")
    void undoLeavesWhatOthersCountOn() {
        String mine = key("mine"), other = key("other"), reentered = key("reentered"), held = key("held");
        String call = grant();
        // Held by B: A's call never had it.
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(other), "B", null, grant()));
        // Held by A before the call: the call only re-enters it.
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(held), "A", null, grant()));
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(held, mine, reentered), "A", null, call));
        // Another call of A re-enters a key the call took: that call counts on it.
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(reentered), "A", null, grant()));

        provider.undo(List.of(held, mine, other, reentered), "A", call);
        provider.undo(List.of(held, mine, other, reentered), "A", call); // again: nothing more
        provider.undo(List.of(held, reentered), "A", grant()); // a call that took nothing

        assertFree(mine);
        assertHeld(other);
        assertHeld(held);
        assertHeld(reentered);
        assertTrue(provider.release(List.of(other), "B"));
        assertTrue(provider.release(List.of(held, reentered), "A"));
    }

    @Test
    @DisplayName("an attempt of an undone call that reaches the server only after the undo takes nothing")
    void lateAttemptOfAnUndoneCallTakesNothing() {
        String one = key("one"), a = key("a"), b = key("b");
        String call = grant(), multiKeyCall = grant();
        // The undo ran first: the request had not arrived yet (held up in a half-open connection).
        provider.undo(List.of(one), "A", call);
        provider.undo(List.of(a, b), null, multiKeyCall);

        assertInstanceOf(AcquireResult.Blocked.class, acquire(List.of(one), "A", null, call));
        assertInstanceOf(AcquireResult.Blocked.class, acquire(List.of(a, b), null, null, multiKeyCall));
        assertFree(one);
        assertFree(a);
        assertFree(b);
        // Other calls are not affected.
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(one), "A", null, grant()));
        assertTrue(provider.release(List.of(one), "A"));
    }

    @Test
    @DisplayName(
            "a retry of the same call recognises its grant, and undo still frees it; a new owner's grant is not undone")
    void undoOfALaterHolderFreesNothing() {
        String k = key("k");
        String call = grant();
        AcquireResult.Acquired first = (AcquireResult.Acquired) acquire(List.of(k), null, Duration.ofMinutes(5), call);
        // The same call's retry after a lost reply: the same grant, anonymous or not.
        AcquireResult.Acquired retry = (AcquireResult.Acquired) acquire(List.of(k), null, Duration.ofMinutes(5), call);
        assertEquals(first.fencingTokens(), retry.fencingTokens());
        provider.undo(List.of(k), null, call);
        // C takes it; undoing the first call again leaves C's lock alone.
        assertInstanceOf(AcquireResult.Acquired.class, acquire(List.of(k), "C", null, grant()));
        provider.undo(List.of(k), null, call);
        provider.undo(List.of(k), "C", call);
        assertHeld(k);
        assertTrue(provider.release(List.of(k), "C"));
    }
}
