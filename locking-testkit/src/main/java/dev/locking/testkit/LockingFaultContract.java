package dev.locking.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.locking.api.Lease;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.PrivateStore;
import dev.locking.testkit.servers.ReplicatedStore;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The fault tier of the contract: what a provider promises when the network or the store fails
 * under it. Every store that crosses a network runs it (the in-memory store has no network).
 * Network faults come from a {@link FaultyProxy} between the provider and its store: a reply lost
 * after the store acted, a connection reset, a half-open connection; store faults from a {@link
 * ReplicatedStore}: the primary dies and an asynchronous replica that missed its last writes takes
 * over.
 *
 * <p>The promises checked: a call that fails leaves none of its keys held, whatever became of its
 * reply; a caller whose store stops answering fails within its timeout; a lease the provider can
 * no longer vouch for is reported lost ({@code isLost()}, {@link LockLostException}) within the
 * lease; a reset connection alone does not lose a lease; after a failover no two holders both
 * believe they hold a key past the loser's next renewal, and fencing tokens never go backwards.
 *
 * <p>A provider's test extends it and supplies a store to proxy, modules pointed at an address, and
 * replicated stores. Every test is bounded: a provider that hangs fails instead.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
public abstract class LockingFaultContract {

    /** The store the network-fault tests reach through a proxy: a private one, so nothing shared is broken. */
    protected abstract InetSocketAddress storeAddress();

    /**
     * A fresh module whose default provider reaches its store at {@code host:port} (a proxy's
     * address, in these tests), migrated if the store needs it, with connect and socket timeouts of
     * about a second where the provider has them. The kit closes it.
     */
    protected abstract LockingModule newModule(String host, int port);

    /** A primary with an asynchronous replica, started for one test; the kit closes it. */
    protected abstract ReplicatedStore newReplicatedStore();

    /** A store of its own on a {@link dev.locking.testkit.servers.FakeClock} at the real time, started for one test; the kit closes it. */
    protected abstract PrivateStore newStoreOnFakeClock();

    /**
     * How much later than its deadline a call may fail when its store stops answering, and how much
     * longer than its lease a running {@code execute} may take to report the lease lost. One second:
     * a connect or socket timeout of the provider's own, well under any lease worth having.
     */
    protected Duration faultSlack() {
        return Duration.ofSeconds(1);
    }

    /**
     * True when a lock outlives the connection it was taken on (a row, a Redis key); false when a
     * lock is a lock of a server session (locking-postgres with {@code mode = "session"}), which ends
     * with its connection: a reset connection then loses the lock, and the holder is told.
     */
    protected boolean locksSurviveConnectionLoss() {
        return true;
    }

    /**
     * True when leases are measured by the store's clock; false when the holding process ends its
     * leases itself (locking-postgres with {@code mode = "session"}): a step of the store's clock
     * then changes no lease.
     */
    protected boolean leasesByStoreClock() {
        return true;
    }

    /**
     * True when fencing tokens keep growing when the store's clock steps backwards; false when they
     * are read from the store's clock, which the provider's documentation then requires never to
     * step backwards (locking-postgres with {@code mode = "session"}).
     */
    protected boolean tokensSurviveStoreClockStepBack() {
        return true;
    }

    /** How long a key a failed call took may stay held before the provider undoes it. */
    protected Duration undoWithin() {
        return Duration.ofSeconds(10);
    }

    private static final Duration LONG_WAIT = Duration.ofSeconds(20);

    private final List<AutoCloseable> opened = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private String prefix;

    @BeforeEach
    void name(TestInfo info) {
        prefix = info.getTestMethod().map(m -> m.getName()).orElse("t") + "-"
                + UUID.randomUUID().toString().substring(0, 8) + ":";
    }

    @AfterEach
    void closeEverything() throws Exception {
        pool.shutdownNow();
        pool.awaitTermination(30, TimeUnit.SECONDS);
        for (int i = opened.size() - 1; i >= 0; i--) {
            try {
                opened.get(i).close();
            } catch (Exception e) {
                // Close the rest; a module on a dead store may complain.
            }
        }
    }

    private <T extends AutoCloseable> T track(T closeable) {
        opened.add(closeable);
        return closeable;
    }

    /** A key unique to this test run. */
    protected String key(String name) {
        return prefix + name;
    }

    /** An owner unique to this test run. */
    protected LockOptions owner(String name) {
        return LockOptions.defaults().owner(prefix + name);
    }

    /** A proxy to the store, closed after the test. */
    protected FaultyProxy proxy() {
        InetSocketAddress store = storeAddress();
        return track(FaultyProxy.start("contract", store.getHostString(), store.getPort()));
    }

    /** A module through {@code proxy}, warmed up (its pool and listeners open), closed after the test. */
    protected LockingModule moduleThrough(FaultyProxy proxy) {
        LockingModule module = track(newModule(proxy.host(), proxy.port()));
        warmUp(module);
        return module;
    }

    /** A module straight on the store, as a second application instance that sees no fault. */
    protected LockingModule directModule() {
        InetSocketAddress store = storeAddress();
        return track(newModule(store.getHostString(), store.getPort()));
    }

    private void warmUp(LockingModule module) {
        String k = key("warm-up");
        for (int i = 0; i < 3; i++) {
            module.acquire(k, owner("warm-up"));
            assertTrue(module.release(k, owner("warm-up")));
        }
    }

    private <T> Future<T> async(Callable<T> task) {
        return pool.submit(task);
    }

    /** The call's outcome within {@code limit}, or a failure that says the call hung. */
    private static <T> T within(Future<T> call, Duration limit, String what) throws Exception {
        try {
            return call.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            call.cancel(true);
            throw new AssertionError(what + " did not return within " + limit + ": it hangs", e);
        }
    }

    private static Throwable failureOf(Future<?> call, Duration limit, String what) throws Exception {
        try {
            Object result = within(call, limit, what);
            throw new AssertionError(what + " succeeded (" + result + "), expected it to fail");
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    /** Another owner takes {@code k} within {@code limit}: nothing is left held. */
    private void assertTakenByAnotherOwnerWithin(LockingModule module, String k, Duration limit, String why) {
        long start = System.nanoTime();
        try {
            module.acquire(k, owner("next").timeout(limit));
        } catch (LockAcquisitionException e) {
            fail(why + ": " + k + " was still held "
                    + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms later (" + e.getMessage() + ")");
        }
        assertTrue(module.release(k, owner("next")));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static void awaitLost(dev.locking.api.LockContext lock, Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!lock.isLost() && System.nanoTime() < deadline) sleep(20);
    }

    // ------------------------------------------------------------------ lost replies (issue 17 item 1)

    @Test
    @DisplayName("an acquire whose reply is lost, and whose retry fails, throws and leaves the key free")
    void lostReplyOnAcquireLeavesNoKeyHeld() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        LockingModule other = directModule();
        String k = key("k");
        proxy.loseNextReplyThenGoDown(k);
        // No expire: the case where a key left behind is held forever.
        Throwable failure =
                failureOf(async(() -> locking.acquire(k, owner("A"))), LONG_WAIT, "the acquire whose reply was lost");
        assertEquals(1, proxy.repliesLost(), "the store answered the acquire and the answer was lost");
        assertInstanceOf(LockingException.class, failure, "a store failure, not " + failure);
        assertFalse(failure instanceof LockAcquisitionException, "the key was free: not a busy key, " + failure);
        proxy.heal();
        assertTakenByAnotherOwnerWithin(other, k, undoWithin(), "the failed acquire left its key held");
    }

    @Test
    @DisplayName(
            "an execute whose acquire reply is lost throws, never runs the job, and leaves the key free long before its lease ends")
    void lostReplyOnExecuteLeavesNoKeyHeld() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        LockingModule other = directModule();
        String k = key("k");
        AtomicLong ran = new AtomicLong();
        proxy.loseNextReplyThenGoDown(k);
        Throwable failure = failureOf(
                async(() -> locking.execute(
                        k, lock -> ran.incrementAndGet(), LockOptions.defaults().expire(Duration.ofSeconds(60)))),
                LONG_WAIT,
                "the execute whose acquire reply was lost");
        assertInstanceOf(LockingException.class, failure);
        assertEquals(0, ran.get(), "the job never ran");
        proxy.heal();
        assertTakenByAnotherOwnerWithin(
                other, k, undoWithin(), "the failed execute left its key held for its 60 s lease");
    }

    // ------------------------------------------------------------------ cut connections

    @Test
    @DisplayName("connections reset while execute runs, with the store back at once, do not lose the lease")
    void resetConnectionsAloneDoNotLoseALease() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        String k = key("k");
        if (!locksSurviveConnectionLoss()) {
            // The lock ends with its connection: the holder is told, and the key is free at once.
            LockingModule other = directModule();
            Throwable failure = failureOf(
                    async(() -> locking.execute(
                            k,
                            lock -> {
                                proxy.cutAll(FaultyProxy.Cut.RESET);
                                awaitLost(lock, LONG_WAIT);
                                assertTrue(lock.isLost(), "isLost() stayed false after the connection reset");
                                return "done";
                            },
                            LockOptions.defaults().expire(Duration.ofMillis(1500)))),
                    LONG_WAIT,
                    "execute");
            assertInstanceOf(LockLostException.class, failure);
            assertTakenByAnotherOwnerWithin(other, k, faultSlack(), "the reset session's lock stayed held");
            return;
        }
        boolean lost = within(
                async(() -> locking.execute(
                        k,
                        lock -> {
                            for (int i = 0; i < 4; i++) {
                                proxy.cutAll(FaultyProxy.Cut.RESET);
                                sleep(700);
                            }
                            return lock.isLost();
                        },
                        LockOptions.defaults().expire(Duration.ofMillis(1500)))),
                LONG_WAIT,
                "execute");
        assertFalse(lost, "renewals on fresh connections kept the lease");
    }

    @Test
    @DisplayName(
            "a store unreachable while execute runs: isLost() turns true within the lease, execute throws LockLostException, and the key frees")
    void unreachableStoreMidExecuteLosesTheLease() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        LockingModule other = directModule();
        String k = key("k");
        Duration lease = Duration.ofMillis(1200);
        AtomicLong noticedAfterMs = new AtomicLong(-1);
        Throwable failure = failureOf(
                async(() -> locking.execute(
                        k,
                        lock -> {
                            long down = System.nanoTime();
                            proxy.goDown();
                            awaitLost(lock, lease.plus(faultSlack()).multipliedBy(3));
                            if (lock.isLost())
                                noticedAfterMs.set(Duration.ofNanos(System.nanoTime() - down)
                                        .toMillis());
                            proxy.heal();
                            return "done";
                        },
                        LockOptions.defaults().expire(lease))),
                LONG_WAIT,
                "execute");
        assertTrue(noticedAfterMs.get() >= 0, "isLost() never turned true");
        assertTrue(
                noticedAfterMs.get() <= lease.plus(faultSlack()).toMillis(),
                "isLost() turned true " + noticedAfterMs.get() + " ms after the store went away, lease " + lease);
        assertInstanceOf(LockLostException.class, failure);
        assertTakenByAnotherOwnerWithin(other, k, lease.plus(undoWithin()), "the lost lease's key stayed held");
    }

    // ------------------------------------------------------------------ half-open connections (items 7, 13)

    @Test
    @DisplayName(
            "a half-open connection fails a waiting acquire within its timeout, and leaves nothing held once it heals")
    void blackHoledStoreFailsTheCallerWithinItsTimeout() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        LockingModule other = directModule();
        String k = key("k");
        Duration timeout = Duration.ofSeconds(1);
        proxy.blackHole();
        long start = System.nanoTime();
        Throwable failure = failureOf(
                async(() -> locking.acquire(k, owner("A").timeout(timeout))),
                LONG_WAIT,
                "an acquire on a half-open connection");
        long tookMs = Duration.ofNanos(System.nanoTime() - start).toMillis();
        assertInstanceOf(LockingException.class, failure);
        assertTrue(
                tookMs <= timeout.plus(faultSlack()).toMillis(),
                "a " + timeout.toMillis() + " ms timeout failed after " + tookMs + " ms");
        // The held request reaches the store now, with nobody left to hear the answer.
        proxy.heal();
        assertTakenByAnotherOwnerWithin(other, k, undoWithin(), "the timed-out acquire left its key held");
    }

    @Test
    @DisplayName("a half-open connection while execute runs: isLost() turns true within the lease")
    void blackHoledStoreMidExecuteLosesTheLeaseInTime() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        String k = key("k");
        Duration lease = Duration.ofMillis(1500);
        AtomicLong noticedAfterMs = new AtomicLong(-1);
        CountDownLatch healed = new CountDownLatch(1);
        Future<String> job = async(() -> locking.execute(
                k,
                lock -> {
                    long partition = System.nanoTime();
                    proxy.blackHole();
                    awaitLost(lock, Duration.ofSeconds(10));
                    if (lock.isLost())
                        noticedAfterMs.set(
                                Duration.ofNanos(System.nanoTime() - partition).toMillis());
                    proxy.heal();
                    healed.countDown();
                    return "done";
                },
                LockOptions.defaults().expire(lease)));
        assertTrue(healed.await(LONG_WAIT.toSeconds(), TimeUnit.SECONDS), "the job hung");
        assertTrue(noticedAfterMs.get() >= 0, "isLost() stayed false for 10 s on a half-open connection");
        assertTrue(
                noticedAfterMs.get() <= lease.plus(faultSlack()).toMillis(),
                "isLost() turned true " + noticedAfterMs.get() + " ms into the partition, lease " + lease);
        Throwable failure = failureOf(job, LONG_WAIT, "execute");
        assertInstanceOf(LockLostException.class, failure);
    }

    // ------------------------------------------------------------------ failover (item 3)

    @Test
    @DisplayName(
            "failover to a lagging replica: the old holder is told its lease is lost and tokens never go backwards")
    void failoverToALaggingReplicaKeepsTokensGrowing() throws Exception {
        ReplicatedStore store = track(newReplicatedStore());
        LockingModule a = track(newModule(store.host(), store.port()));
        String k = key("k");
        for (int i = 0; i < 5; i++) {
            a.acquire(k, owner("A"));
            assertTrue(a.release(k, owner("A")));
        }
        store.awaitReplicaCaughtUp();
        store.lagReplica();
        // Writes the replica never sees: more than any per-session prefetch of a counter.
        long highest = 0;
        for (int i = 0; i < 100; i++) {
            Lease lease = a.acquire(k, owner("A"));
            highest = Math.max(highest, lease.fencingToken(k));
            assertTrue(a.release(k, owner("A")));
        }
        Duration lease = Duration.ofMillis(1500);
        CountDownLatch holding = new CountDownLatch(1);
        AtomicLong heldToken = new AtomicLong();
        AtomicLong noticedAfterFailoverMs = new AtomicLong(-1);
        AtomicLong failedOverAt = new AtomicLong();
        Future<String> holder = async(() -> a.execute(
                k,
                lock -> {
                    heldToken.set(lock.fencingToken(k));
                    holding.countDown();
                    awaitLost(lock, Duration.ofSeconds(30));
                    if (lock.isLost() && failedOverAt.get() != 0)
                        noticedAfterFailoverMs.set(Duration.ofNanos(System.nanoTime() - failedOverAt.get())
                                .toMillis());
                    return "done";
                },
                LockOptions.defaults().expire(lease)));
        assertTrue(holding.await(LONG_WAIT.toSeconds(), TimeUnit.SECONDS), "the holder never ran");
        highest = Math.max(highest, heldToken.get());

        failedOverAt.set(System.nanoTime()); // the primary dies now: the holder cannot renew from here on
        store.failover();
        LockingModule b = track(newModule(store.host(), store.port()));
        Lease taken = b.acquire(k, owner("B").timeout(LONG_WAIT));
        long tokenAfter = taken.fencingToken(k);
        Throwable failure = failureOf(holder, LONG_WAIT, "the holder's execute");
        assertInstanceOf(LockLostException.class, failure, "the old holder must learn its lease is gone");
        assertTrue(
                noticedAfterFailoverMs.get() >= 0
                        && noticedAfterFailoverMs.get()
                                <= lease.plus(faultSlack()).toMillis(),
                "the old holder saw isLost() " + noticedAfterFailoverMs.get() + " ms after its primary died, lease "
                        + lease);
        assertTrue(
                tokenAfter > highest,
                "fencing token went backwards across the failover: " + highest + " before, " + tokenAfter + " after");
        assertTrue(b.release(k, owner("B")));
    }

    // ------------------------------------------------------------------ the store's clock

    @Test
    @DisplayName(
            "the store's clock stepping forward past a lease frees the key; the holder is told within its lease and tokens still grow")
    void storeClockStepForwardEndsTheLeaseAndTheHolderIsTold() throws Exception {
        PrivateStore store = track(newStoreOnFakeClock());
        LockingModule a = track(newModule(store.host(), store.port()));
        LockingModule b = track(newModule(store.host(), store.port()));
        String k = key("k");
        Duration lease = Duration.ofSeconds(3);
        if (!leasesByStoreClock()) {
            // The holder's process ends its lease: a step of the store's clock changes nothing.
            long held = a.acquire(k, owner("A").expire(lease)).fencingToken(k);
            store.clock().step(Duration.ofMinutes(10));
            assertThrows(
                    LockAcquisitionException.class,
                    () -> b.acquire(k, owner("B").timeout(Duration.ofMillis(500))),
                    "the clock step ended a lease the holder's process measures");
            Lease taken = b.acquire(k, owner("B").timeout(LONG_WAIT)); // the lease's own end
            assertTrue(
                    taken.fencingToken(k) > held, "tokens went backwards: " + held + " then " + taken.fencingToken(k));
            assertFalse(a.release(k, owner("A")), "the ended lease has nothing to release");
            assertTrue(b.release(k, owner("B")));
            return;
        }
        CountDownLatch holding = new CountDownLatch(1);
        AtomicLong heldToken = new AtomicLong();
        AtomicLong steppedAt = new AtomicLong();
        AtomicLong noticedAfterStepMs = new AtomicLong(-1);
        Future<String> holder = async(() -> a.execute(
                k,
                lock -> {
                    heldToken.set(lock.fencingToken(k));
                    holding.countDown();
                    awaitLost(lock, LONG_WAIT);
                    if (lock.isLost() && steppedAt.get() != 0)
                        noticedAfterStepMs.set(Duration.ofNanos(System.nanoTime() - steppedAt.get())
                                .toMillis());
                    return "done";
                },
                LockOptions.defaults().expire(lease)));
        assertTrue(holding.await(LONG_WAIT.toSeconds(), TimeUnit.SECONDS), "the holder never ran");
        steppedAt.set(System.nanoTime());
        store.clock().step(Duration.ofMinutes(10));
        // The documented bound: leases are measured by the store's clock, so a step forward ends them early.
        Lease taken = b.acquire(k, owner("B").timeout(LONG_WAIT));
        assertTrue(
                taken.fencingToken(k) > heldToken.get(),
                "tokens went backwards: " + heldToken.get() + " then " + taken.fencingToken(k));
        Throwable failure = failureOf(holder, LONG_WAIT, "the holder's execute");
        assertInstanceOf(LockLostException.class, failure);
        assertTrue(
                noticedAfterStepMs.get() >= 0
                        && noticedAfterStepMs.get() <= lease.plus(faultSlack()).toMillis(),
                "the holder saw isLost() " + noticedAfterStepMs.get() + " ms after the clock step, lease " + lease);
        assertTrue(b.release(k, owner("B")));
    }

    @Test
    @DisplayName("the store's clock stepping backwards keeps fencing tokens growing")
    void storeClockStepBackwardKeepsTokensGrowing() {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                tokensSurviveStoreClockStepBack(),
                "this provider's fencing tokens are read from the store's clock, which its documentation requires"
                        + " never to step backwards");
        PrivateStore store = track(newStoreOnFakeClock());
        LockingModule locking = track(newModule(store.host(), store.port()));
        String k = key("k");
        long last = 0;
        for (int i = 0; i < 3; i++) {
            last = Math.max(last, locking.acquire(k, owner("A")).fencingToken(k));
            assertTrue(locking.release(k, owner("A")));
        }
        store.clock().step(Duration.ofHours(-1));
        for (int i = 0; i < 3; i++) {
            long token = locking.acquire(k, owner("B")).fencingToken(k);
            assertTrue(token > last, "token " + token + " after the clock stepped back an hour, " + last + " before");
            last = token;
            assertTrue(locking.release(k, owner("B")));
        }
    }
}
