package dev.locking.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.locking.api.Lease;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.api.LockingService;
import dev.locking.api.UnknownProviderException;
import dev.locking.core.LockingModule;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The contract every provider passes: Medusa's own integration cases, the stricter semantics of
 * the API, bad input, and a fuzz test. A provider's test extends it and supplies {@link
 * #newModule()}: a module whose default provider is the one under test.
 *
 * <p>Each test works on keys and owners of its own (a random prefix), so a store shared with
 * other tests or processes does not disturb it, and releases what it took. Waits are bounded
 * generously so a broken provider fails instead of hanging; no assertion is about speed, except
 * the API's promise that a timeout ends within 250 ms of its deadline.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class LockingProviderContract {

    /** A fresh module whose default provider is the one under test; the kit closes it after each test. */
    protected abstract LockingModule newModule();

    /**
     * True when two modules from {@link #newModule()} share one store, as two application
     * instances would (PostgreSQL, Redis); false for process-local stores.
     */
    protected boolean modulesShareStore() {
        return true;
    }

    /**
     * True when a lock taken through one module can be released, renewed or listed through another
     * module on the same store, by its owner (the lock lives in the store: a row, a Redis key).
     * False for a store whose locks live on the taking process's own server sessions
     * (locking-postgres with {@code mode = "session"}): only the process that took a lock can
     * release it, and another process's release of it answers false and leaves it held.
     */
    protected boolean locksSpanInstances() {
        return true;
    }

    /** How much longer than its deadline a timed-out wait may take; the API promises 250 ms. */
    protected Duration timeoutSlack() {
        return Duration.ofMillis(250);
    }

    private static final Duration LONG_WAIT = Duration.ofSeconds(20);

    protected LockingModule locking;
    private final List<LockingModule> modules = new ArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private String prefix;

    @BeforeEach
    void openModule(TestInfo info) {
        prefix = info.getTestMethod().map(m -> m.getName()).orElse("t") + "-"
                + UUID.randomUUID().toString().substring(0, 8) + ":";
        locking = track(newModule());
    }

    @AfterEach
    void closeModules() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "test threads did not stop");
        for (LockingModule m : modules) m.close();
    }

    /** A key unique to this test run. */
    protected String key(String name) {
        return prefix + name;
    }

    /** An owner unique to this test run. */
    protected LockOptions owner(String name) {
        return LockOptions.defaults().owner(prefix + name);
    }

    private LockingModule track(LockingModule module) {
        modules.add(module);
        return module;
    }

    /** A second module on the same store when the provider shares one, else the same module. */
    protected LockingModule otherInstance() {
        return modulesShareStore() ? track(newModule()) : locking;
    }

    private <T> Future<T> async(Callable<T> task) {
        return pool.submit(task);
    }

    private static <T> T await(Future<T> future) throws Exception {
        return future.get(LONG_WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    // ------------------------------------------------------------------ Medusa's integration cases

    @Test
    @DisplayName("ten concurrent execute calls on one key sell exactly the stock")
    void tenConcurrentExecutesSellExactlyTheStock() throws Exception {
        String item = key("item_1");
        StockRoom room = new StockRoom(5);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Boolean>> buyers = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            LockingService instance = i % 2 == 0 ? locking : otherInstance();
            buyers.add(async(() -> {
                start.await();
                return instance.execute(
                        item, lock -> room.buy(), LockOptions.defaults().timeout(LONG_WAIT));
            }));
        }
        start.countDown();
        int bought = 0;
        for (Future<Boolean> f : buyers) if (await(f)) bought++;
        assertEquals(5, bought, "exactly the stock is sold");
        assertEquals(0, room.stock(), "stock ends at zero, never below");
        assertEquals(5, room.sold(), "no sale was lost or doubled");
    }

    @Test
    @DisplayName("another owner can neither release nor acquire a held key; the holder releases it")
    void acquireAndReleaseRespectOwners() {
        String k = key("k");
        locking.acquire(k, owner("A"));
        assertFalse(locking.release(k, owner("B")), "release by another owner is false");
        LockAcquisitionException e = assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
        assertEquals("Failed to acquire lock for key \"" + k + "\"", e.getMessage());
        assertTrue(locking.release(k, owner("A")), "release by the holder is true");
        assertFalse(locking.release(k, owner("A")), "a second release has nothing to free");
    }

    @Test
    @DisplayName("the same owner may acquire again; another owner fails every time")
    void sameOwnerMayReacquireOthersFailRepeatedly() {
        String k = key("k");
        locking.acquire(k, owner("A"));
        locking.acquire(k, owner("A"));
        for (int i = 0; i < 3; i++) assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
        assertFalse(locking.release(k, owner("B")));
        assertTrue(locking.release(k, owner("A")));
        locking.acquire(k, owner("B"));
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("an owner-less lock is not re-entrant; a named owner cannot release it; owner-less release can")
    void anonymousLockIsNotReentrant() {
        String k = key("k");
        Lease lease = locking.acquire(k);
        assertTrue(lease.owner().isEmpty());
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k));
        assertFalse(locking.release(k, owner("A")), "a named owner cannot release an anonymous lock");
        assertTrue(locking.release(k), "owner-less release frees the anonymous lock");
        assertFalse(locking.release(k));
    }

    @Test
    @DisplayName("a job that throws releases its lock, and the next execute runs")
    void jobThatThrowsReleasesItsLock() {
        String k = key("k");
        IllegalStateException thrown = assertThrows(
                IllegalStateException.class,
                () -> locking.execute(k, lock -> {
                    throw new IllegalStateException("job failed");
                }));
        assertEquals("job failed", thrown.getMessage(), "execute passes the job's own exception through");
        assertEquals("ran", locking.execute(k, lock -> "ran"));
        locking.acquire(k, owner("A")); // nothing left behind
        assertTrue(locking.release(k, owner("A")));
    }

    @Test
    @DisplayName("a waiter past its timeout fails with Timed-out acquiring lock. and never runs; a patient one does")
    void impatientWaiterTimesOutPatientOneRunsAfterTheHolder() throws Exception {
        String k = key("k");
        LockingService other = otherInstance(); // opened first: its start-up must not delay the waiters
        CountDownLatch holding = new CountDownLatch(1);
        AtomicBoolean holderDone = new AtomicBoolean();
        Future<String> holder = async(() -> locking.execute(
                k,
                lock -> {
                    holding.countDown();
                    // Medusa holds 1.01 s against a 1 s timeout; a 10 ms margin is a coin toss on a
                    // loaded 2-core machine, so the holder outlasts the impatient waiter by more.
                    sleep(1500);
                    holderDone.set(true);
                    return "holder";
                },
                LockOptions.defaults().timeout(LONG_WAIT)));
        assertTrue(holding.await(LONG_WAIT.toSeconds(), TimeUnit.SECONDS));
        AtomicBoolean impatientRan = new AtomicBoolean();
        Future<Object> impatient = async(() -> other.execute(
                k,
                lock -> {
                    impatientRan.set(true);
                    return null;
                },
                LockOptions.defaults().timeout(Duration.ofSeconds(1))));
        Future<Boolean> patient = async(() -> other.execute(
                k, lock -> holderDone.get(), LockOptions.defaults().timeout(LONG_WAIT)));

        Exception e = assertThrows(Exception.class, () -> await(impatient));
        assertTrue(e.getCause() instanceof LockTimeoutException, "expected a LockTimeoutException, got " + e);
        assertEquals("Timed-out acquiring lock.", e.getCause().getMessage());
        assertFalse(impatientRan.get(), "the timed-out job never ran");
        assertEquals("holder", await(holder));
        assertTrue(await(patient), "the patient waiter ran after the holder finished");
    }

    // ------------------------------------------------------------------ the API's stricter semantics

    @Test
    @DisplayName("an expired lock is free for another owner, also for sub-second leases")
    void expiryFreesTheLockForOthers() {
        String k = key("k");
        Lease lease = locking.acquire(k, owner("A").expire(Duration.ofMillis(300)));
        assertTrue(lease.expiresAt().isPresent());
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
        Lease taken = locking.acquire(k, owner("B").timeout(LONG_WAIT));
        assertTrue(taken.fencingToken(k) > lease.fencingToken(k));
        assertFalse(locking.release(k, owner("A")), "the expired holder has nothing to release");
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("a sub-second lease expires in well under a second")
    void subSecondLeaseExpiresInUnderASecond() {
        String k = key("k");
        locking.acquire(k, owner("A").expire(Duration.ofMillis(100)));
        sleep(600);
        // Still held after 600 ms would mean the lease was rounded up to a second or more.
        locking.acquire(k, owner("B"));
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("re-acquiring without expire keeps the lease; it never turns into a permanent lock")
    void sameOwnerReacquireWithoutExpireKeepsTheLease() {
        String k = key("k");
        locking.acquire(k, owner("A").expire(Duration.ofMillis(400)));
        Lease again = locking.acquire(k, owner("A"));
        assertTrue(again.expiresAt().isPresent(), "the lease still has an end");
        locking.acquire(k, owner("B").timeout(LONG_WAIT)); // frees by expiry
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("a grant of several keys reports the earliest of their leases")
    void multiKeyGrantReportsTheEarliestLease() {
        String k = key("k"), m = key("m");
        locking.acquire(k, owner("A").expire(Duration.ofSeconds(2)));
        Lease both = locking.acquire(List.of(k, m), owner("A")); // m held until released, k still leased
        java.time.Instant end = both.expiresAt().orElseThrow(() -> new AssertionError("k's lease was dropped"));
        assertTrue(end.isBefore(java.time.Instant.now().plusSeconds(3)), "expiresAt " + end + " is k's, not later");
        assertEquals(2, locking.releaseAll(owner("A")));
    }

    @Test
    @DisplayName("re-acquiring with expire refreshes the lease")
    void sameOwnerReacquireWithExpireRefreshesTheLease() {
        String k = key("k");
        locking.acquire(k, owner("A").expire(Duration.ofMillis(300)));
        locking.acquire(k, owner("A").expire(Duration.ofSeconds(30)));
        sleep(700);
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
        assertTrue(locking.release(k, owner("A")));
    }

    @Test
    @DisplayName("a multi-key acquire that fails holds none of its keys")
    void multiKeyAcquireIsAllOrNothing() {
        String k1 = key("k1"), k2 = key("k2"), k3 = key("k3");
        locking.acquire(k2, owner("B"));
        LockAcquisitionException e =
                assertThrows(LockAcquisitionException.class, () -> locking.acquire(List.of(k3, k1, k2), owner("A")));
        assertEquals("Failed to acquire lock for key \"" + k2 + "\"", e.getMessage());
        assertThrows(
                LockTimeoutException.class,
                () -> locking.acquire(List.of(k1, k2, k3), owner("A").timeout(Duration.ofMillis(300))));
        Lease c = locking.acquire(List.of(k1, k3), owner("C"));
        assertEquals(List.of(k1, k3), c.keys());
        assertTrue(locking.release(List.of(k1, k3), owner("C")));
        assertTrue(locking.release(k2, owner("B")));
    }

    @Test
    @DisplayName("keys are de-duplicated and sorted")
    void keysAreDeduplicatedAndSorted() {
        String a = key("a"), b = key("b");
        Lease lease = locking.acquire(List.of(b, a, b), owner("A"));
        assertEquals(List.of(a, b), lease.keys());
        assertTrue(locking.release(List.of(a, b, a), owner("A")));
    }

    @Test
    @DisplayName("callers taking the same keys in opposite orders never deadlock")
    void oppositeKeyOrdersNeverDeadlock() throws Exception {
        String a = key("a"), b = key("b");
        LockingService other = otherInstance();
        AtomicInteger inside = new AtomicInteger();
        Callable<Integer> forward = () -> loop(
                20,
                () -> locking.execute(
                        List.of(a, b),
                        lock -> inside.incrementAndGet(),
                        LockOptions.defaults().timeout(LONG_WAIT)));
        Callable<Integer> backward = () -> loop(
                20,
                () -> other.execute(
                        List.of(b, a),
                        lock -> inside.incrementAndGet(),
                        LockOptions.defaults().timeout(LONG_WAIT)));
        Future<Integer> f1 = async(forward), f2 = async(backward);
        assertEquals(20, await(f1));
        assertEquals(20, await(f2));
        assertEquals(40, inside.get());
    }

    private static int loop(int times, Runnable body) {
        for (int i = 0; i < times; i++) body.run();
        return times;
    }

    @Test
    @DisplayName("execute and acquire on the same key exclude each other")
    void executeAndAcquireExcludeEachOther() {
        String k = key("k");
        locking.acquire(k, owner("A"));
        assertThrows(
                LockTimeoutException.class,
                () -> locking.execute(k, lock -> "ran", LockOptions.defaults().timeout(Duration.ofMillis(200))));
        assertTrue(locking.release(k, owner("A")));
        String result = locking.execute(k, lock -> {
            assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
            assertThrows(LockAcquisitionException.class, () -> locking.acquire(k));
            return "ran";
        });
        assertEquals("ran", result);
    }

    @Test
    @DisplayName("release without owner never frees an owned lock")
    void ownerlessReleaseNeverFreesAnOwnedLock() {
        String k = key("k");
        locking.acquire(k, owner("A"));
        assertFalse(locking.release(k));
        assertFalse(locking.release(List.of(k), LockOptions.defaults()));
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
        assertTrue(locking.release(k, owner("A")));
    }

    @Test
    @DisplayName("release of several keys is true only if the owner held every one")
    void multiKeyReleaseIsTrueOnlyIfAllWereHeld() {
        String a = key("a"), b = key("b");
        locking.acquire(a, owner("A"));
        locking.acquire(b, owner("B"));
        assertFalse(locking.release(List.of(a, b), owner("A")), "b was not A's");
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(b, owner("C")), "b is still B's");
        assertTrue(locking.release(b, owner("B")));
    }

    @Test
    @DisplayName("releaseAll frees the owner's locks only; without owner, the anonymous ones only")
    void releaseAllFreesOnlyTheOwnersLocks() {
        String k1 = key("k1"), k2 = key("k2"), k3 = key("k3"), k4 = key("k4"), k5 = key("k5");
        locking.acquire(List.of(k1, k2), owner("A"));
        locking.acquire(k3, owner("A").expire(Duration.ofSeconds(30)));
        locking.acquire(k4, owner("B"));
        locking.acquire(k5);
        assertEquals(3, locking.releaseAll(owner("A")));
        assertEquals(0, locking.releaseAll(owner("A")));
        locking.acquire(List.of(k1, k2, k3), owner("C")); // A's keys are free
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k4, owner("C")), "B's lock untouched");
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k5, owner("C")), "anonymous lock untouched");
        assertTrue(locking.releaseAll(LockOptions.defaults()) >= 1);
        locking.acquire(k5, owner("C"));
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k4, owner("C")), "still B's");
        assertEquals(4, locking.releaseAll(owner("C")));
        assertEquals(1, locking.releaseAll(owner("B")));
    }

    @Test
    @DisplayName("every acquisition of a key gets a larger fencing token")
    void fencingTokensGrow() {
        String k = key("k"), j = key("j");
        long last = Long.MIN_VALUE;
        for (int i = 0; i < 5; i++) {
            LockOptions who = owner(i % 2 == 0 ? "A" : "B");
            Lease lease = locking.acquire(List.of(k, j), who);
            assertTrue(lease.fencingToken(k) > last, "token of round " + i + " grows");
            last = lease.fencingToken(k);
            Lease reentered = locking.acquire(k, who);
            assertTrue(reentered.fencingToken(k) > last, "a re-entry is an acquisition too");
            last = reentered.fencingToken(k);
            assertTrue(locking.release(List.of(k, j), who));
        }
        long viaExecute = locking.execute(k, lock -> lock.fencingToken(k));
        assertTrue(viaExecute > last, "execute's token grows too");
        assertThrows(IllegalArgumentException.class, () -> locking.acquire(k, owner("A"))
                .fencingToken(j));
        assertTrue(locking.release(k, owner("A")));
    }

    @Test
    @DisplayName("a waiter proceeds promptly when the holder releases")
    void waiterProceedsPromptlyAfterRelease() throws Exception {
        String k = key("k");
        locking.acquire(k, owner("A"));
        LockingService other = otherInstance();
        Future<Long> waiter = async(() -> {
            other.acquire(k, owner("B").timeout(LONG_WAIT));
            return System.nanoTime();
        });
        sleep(300); // let it park
        long released = System.nanoTime();
        assertTrue(locking.release(k, owner("A")));
        long handOver = Duration.ofNanos(await(waiter) - released).toMillis();
        // Generous: a notified hand-over takes milliseconds; a pure 1 s poll (Medusa's) would not pass reliably.
        assertTrue(handOver < 1000, "hand-over took " + handOver + " ms");
        assertTrue((locksSpanInstances() ? locking : other).release(k, owner("B")));
    }

    @Test
    @DisplayName("an owner's lock is released through another module only where locks span instances")
    void releaseThroughAnotherModuleFollowsTheCapability() {
        if (!modulesShareStore()) return;
        String k = key("k");
        LockingService other = otherInstance();
        other.acquire(k, owner("A"));
        if (locksSpanInstances()) {
            assertTrue(locking.release(k, owner("A")), "the lock lives in the store");
            return;
        }
        assertFalse(locking.release(k, owner("A")), "this module does not hold the lock");
        assertEquals(0, locking.releaseAll(owner("A")));
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("A")), "still held, by the other");
        assertTrue(other.release(k, owner("A")));
    }

    @Test
    @DisplayName("waiters for a key are served in arrival order")
    void waitersAreServedInArrivalOrder() throws Exception {
        String k = key("k");
        locking.acquire(k, owner("holder"));
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        List<Future<Object>> waiters = new ArrayList<>();
        for (String name : List.of("W1", "W2", "W3", "W4")) {
            LockingService instance = name.equals("W2") || name.equals("W4") ? otherInstance() : locking;
            waiters.add(async(() -> {
                instance.acquire(k, owner(name).timeout(LONG_WAIT));
                order.add(name);
                sleep(50);
                assertTrue(instance.release(k, owner(name)));
                return null;
            }));
            sleep(200); // arrivals well apart
        }
        assertTrue(locking.release(k, owner("holder")));
        for (Future<Object> f : waiters) await(f);
        assertEquals(List.of("W1", "W2", "W3", "W4"), order);
    }

    @Test
    @DisplayName("a non-waiting acquire does not jump the queue of a key")
    void nonWaitingAcquireDoesNotJumpTheQueue() throws Exception {
        String a = key("a"), b = key("b");
        locking.acquire(b, owner("holder"));
        // W waits for a and b: it queues on both and reserves a, free as it is.
        Future<Lease> w = async(() -> locking.acquire(List.of(a, b), owner("W").timeout(LONG_WAIT)));
        sleep(300);
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(a, owner("X")));
        assertTrue(locking.release(b, owner("holder")));
        assertEquals(List.of(a, b), await(w).keys());
        assertTrue(locking.release(List.of(a, b), owner("W")));
    }

    @Test
    @DisplayName("a timed-out wait ends within 250 ms of its deadline, never before it")
    void timeoutEndsWithinSlackOfTheDeadline() {
        String k = key("k");
        locking.acquire(k, owner("A"));
        for (Duration timeout : List.of(Duration.ofMillis(300), Duration.ofMillis(1000))) {
            long start = System.nanoTime();
            assertThrows(
                    LockTimeoutException.class,
                    () -> locking.acquire(k, owner("B").timeout(timeout)));
            long tookMs = Duration.ofNanos(System.nanoTime() - start).toMillis();
            assertTrue(tookMs >= timeout.toMillis(), "gave up early, after " + tookMs + " ms");
            assertTrue(
                    tookMs <= timeout.plus(timeoutSlack()).toMillis(),
                    "a " + timeout.toMillis() + " ms timeout took " + tookMs + " ms");
        }
        long start = System.nanoTime();
        assertThrows(
                LockTimeoutException.class,
                () -> locking.execute(k, lock -> null, LockOptions.defaults().timeout(Duration.ofMillis(500))));
        long tookMs = Duration.ofNanos(System.nanoTime() - start).toMillis();
        assertTrue(tookMs >= 500 && tookMs <= 500 + timeoutSlack().toMillis(), "execute timeout took " + tookMs);
        assertTrue(locking.release(k, owner("A")));
        locking.acquire(k, owner("B")); // the timed-out waiters left nothing behind
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("a zero timeout means do not wait")
    void zeroTimeoutDoesNotWait() {
        String k = key("k");
        locking.acquire(k, owner("A"));
        LockAcquisitionException e = assertThrows(
                LockAcquisitionException.class,
                () -> locking.acquire(k, owner("B").timeout(Duration.ZERO)));
        assertFalse(e instanceof LockTimeoutException, "not waiting is not a timeout");
        assertTrue(locking.release(k, owner("A")));
    }

    @Test
    @DisplayName("a lease lost while execute runs turns isLost() true and execute throws LockLostException")
    void leaseLostMidJobIsReported() {
        String k = key("k");
        LockLostException lost = assertThrows(
                LockLostException.class,
                () -> locking.execute(
                        k,
                        lock -> {
                            assertFalse(lock.isLost());
                            // Someone with the owner id frees the lock behind the job's back; another takes it.
                            assertTrue(locking.release(k, LockOptions.defaults().owner(lock.owner())));
                            locking.acquire(k, owner("thief"));
                            long deadline = System.nanoTime() + LONG_WAIT.toNanos();
                            while (!lock.isLost() && System.nanoTime() < deadline) sleep(20);
                            assertTrue(lock.isLost(), "a renewal noticed the loss");
                            return "done";
                        },
                        LockOptions.defaults().expire(Duration.ofMillis(600))));
        assertEquals(List.of(k), lost.keys());
        assertTrue(lost.getMessage().contains(k));
        assertTrue(locking.release(k, owner("thief")), "execute did not free the thief's lock");
    }

    @Test
    @DisplayName("execute renews its lease while a job outlives it")
    void executeRenewsTheLeaseOfALongJob() {
        String k = key("k");
        String result = locking.execute(
                k,
                lock -> {
                    sleep(900); // three leases long
                    assertFalse(lock.isLost());
                    assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
                    return "done";
                },
                LockOptions.defaults().expire(Duration.ofMillis(300)));
        assertEquals("done", result);
        locking.acquire(k, owner("B"));
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("the lock context names the keys, a unique owner and tokens")
    void lockContextDescribesTheHold() {
        String a = key("a"), b = key("b");
        List<String> owners = new ArrayList<>();
        List<Long> tokens = new ArrayList<>();
        for (int i = 0; i < 2; i++)
            locking.execute(
                    List.of(b, a),
                    lock -> {
                        assertEquals(List.of(a, b), lock.keys());
                        assertNotNull(lock.owner());
                        owners.add(lock.owner());
                        tokens.add(lock.fencingToken(a));
                        tokens.add(lock.fencingToken(b));
                        assertThrows(IllegalArgumentException.class, () -> lock.fencingToken(key("other")));
                        return null;
                    },
                    owner("app"));
        assertFalse(owners.get(0).equals(owners.get(1)), "each execute call runs under its own owner");
        assertTrue(owners.get(0).startsWith(prefix + "app"), "the owner option prefixes the unique owner");
        assertTrue(tokens.get(2) > tokens.get(0) && tokens.get(3) > tokens.get(1), "tokens grow per key: " + tokens);
    }

    @Test
    @DisplayName("the lease names its provider, owner and expiry")
    void leaseDescribesTheGrant() {
        String k = key("k");
        Lease lease = locking.acquire(k, owner("A").expire(Duration.ofSeconds(30)));
        assertTrue(lease.provider().startsWith("lp_"), lease.provider());
        assertEquals(
                locking.providers().stream()
                        .filter(p -> p.isDefault())
                        .findFirst()
                        .orElseThrow()
                        .address(),
                lease.provider());
        assertEquals(prefix + "A", lease.owner().orElseThrow());
        java.time.Instant end = lease.expiresAt().orElseThrow();
        java.time.Instant now = java.time.Instant.now();
        assertTrue(end.isAfter(now.plusSeconds(20)) && end.isBefore(now.plusSeconds(40)), "expiresAt " + end);
        assertTrue(locking.acquire(key("p"), owner("A")).expiresAt().isEmpty(), "no expire, no end");
        assertEquals(2, locking.releaseAll(owner("A")));
    }

    @Test
    @DisplayName("a provider that lists its locks shows key, owner, expiry and token, filtered by owner")
    void listedLocksShowKeyOwnerExpiryAndToken() {
        String a = key("a"), b = key("b"), c = key("c");
        Lease la = locking.acquire(a, owner("A").expire(Duration.ofSeconds(30)));
        locking.acquire(b, owner("B"));
        locking.acquire(c);
        List<dev.locking.spi.HeldLock> mine;
        try {
            mine = locking.locks(owner("A"), 100);
        } catch (UnsupportedOperationException e) {
            assertTrue(e.getMessage().contains("cannot list its locks"), e.getMessage());
            locking.releaseAll(owner("A"));
            locking.releaseAll(owner("B"));
            assertTrue(locking.release(c));
            return; // listing is optional; saying so clearly is the contract
        }
        assertEquals(1, mine.size(), mine.toString());
        assertEquals(a, mine.get(0).key());
        assertEquals(prefix + "A", mine.get(0).owner());
        assertEquals(la.fencingToken(a), mine.get(0).fencingToken());
        assertTrue(mine.get(0).expiresAt() != null);
        List<dev.locking.spi.HeldLock> all = locking.locks(LockOptions.defaults(), 100_000).stream()
                .filter(h -> h.key().startsWith(prefix))
                .toList();
        assertEquals(
                List.of(a, b, c),
                all.stream().map(dev.locking.spi.HeldLock::key).toList());
        assertEquals(null, all.get(2).owner(), "anonymous");
        assertEquals(null, all.get(1).expiresAt(), "held until released");
        assertEquals(1, locking.releaseAll(owner("A")));
        assertEquals(1, locking.releaseAll(owner("B")));
        assertTrue(locking.release(c));
        assertTrue(locking.locks(owner("A"), 10).isEmpty());
    }

    // ------------------------------------------------------------------ leases with a fraction of a millisecond

    /**
     * A store that keeps leases in whole milliseconds must round a lease up, never down: core counts
     * the lease it asked for, from before the call, and believes the key held until then. Checked
     * without racing the clock: a reference key is granted a whole-millisecond lease, then a key is
     * granted the same lease plus 0.9 ms; the store grants the second no earlier than the first, so
     * its reported expiry must be at least 0.9 ms later. A store that dropped the fraction reports
     * the same expiry whenever both grants fall in one millisecond of its clock, which many rounds
     * in a row make certain.
     */
    @Test
    @DisplayName("a lease with a fraction of a millisecond is never shortened by the store")
    void leaseWithAFractionOfAMillisecondIsNeverShortened() {
        Duration whole = Duration.ofSeconds(30);
        Duration fraction = Duration.ofNanos(900_000);
        for (int round = 0; round < 100; round++) {
            String reference = key("reference-" + round);
            String k = key("k-" + round);
            java.time.Instant referenceEnd = locking.acquire(
                            reference, owner("A").expire(whole))
                    .expiresAt()
                    .orElseThrow();
            java.time.Instant end = locking.acquire(k, owner("A").expire(whole.plus(fraction)))
                    .expiresAt()
                    .orElseThrow();
            assertFalse(
                    end.isBefore(referenceEnd.plus(fraction)),
                    "round " + round + ": a lease of " + whole.plus(fraction) + " granted after one of " + whole
                            + " ends at " + end + ", less than 0.9 ms after " + referenceEnd);
            assertTrue(locking.release(List.of(reference, k), owner("A")));
        }
    }

    @Test
    @DisplayName("execute with a lease of 2.9 ms never reports a key held that another owner has taken")
    void executeWithALeaseOfAFewMillisecondsNeverOverlapsAnotherOwner() {
        String k = key("k");
        for (int round = 0; round < 50; round++) {
            try {
                runWithATinyLease(k);
            } catch (LockLostException expected) {
                // A lease this short often ends before its job: execute says so, as it must.
            }
        }
    }

    private void runWithATinyLease(String k) {
        locking.execute(
                k,
                lock -> {
                    boolean taken = false;
                    try {
                        locking.acquire(k, owner("B").expire(Duration.ofSeconds(30)));
                        taken = true;
                    } catch (LockAcquisitionException expected) {
                        // Held: as it must be while the job's lease is valid.
                    }
                    if (taken) {
                        // Another owner has the key: the job's lease must already be over.
                        assertTrue(lock.isLost(), "another owner took the key while isLost() is false");
                        assertTrue(locking.release(k, owner("B")));
                    }
                    return null;
                },
                LockOptions.defaults().expire(Duration.ofNanos(2_900_000)));
    }

    // ------------------------------------------------------------------ bad input

    @Test
    @DisplayName("null, blank, over-long and NUL keys are rejected, naming the argument, and take nothing")
    void badKeysAreRejected() {
        String good = key("good");
        assertIllegal("key must not be null", () -> locking.acquire((String) null));
        assertIllegal("key must not be blank", () -> locking.acquire(" \t"));
        assertIllegal("key must not be blank", () -> locking.execute("", lock -> null));
        assertIllegal("key must be at most 1024 bytes", () -> locking.acquire("k".repeat(1025)));
        assertIllegal("key must be at most 1024 bytes", () -> locking.acquire("é".repeat(513))); // 1026 bytes
        assertIllegal("key must not contain the NUL", () -> locking.acquire("a\0b"));
        assertIllegal("key must be valid Unicode", () -> locking.acquire("a\uD800"));
        assertIllegal("key must be valid Unicode", () -> locking.acquire("\uDC00b"));
        assertIllegal(
                "keys[1] must not be null", () -> locking.acquire(java.util.Arrays.asList(good, null), owner("A")));
        assertIllegal("keys[0] must not be blank", () -> locking.acquire(List.of("", good), owner("A")));
        assertIllegal("keys must not be empty", () -> locking.acquire(List.of(), owner("A")));
        assertIllegal("keys must not be empty", () -> locking.execute(List.of(), lock -> null, LockOptions.defaults()));
        assertIllegal("keys must not be empty", () -> locking.release(List.of(), owner("A")));
        assertIllegal("keys must not be null", () -> locking.acquire((List<String>) null, owner("A")));
        assertIllegal("key must not be null", () -> locking.release((String) null));
        // The longest allowed key works.
        String longest = prefix.substring(0, 8) + "k".repeat(LockingService.MAX_KEY_BYTES - 8);
        locking.acquire(longest, owner("A"));
        assertTrue(locking.release(longest, owner("A")));
        // Nothing was taken by the rejected calls.
        locking.acquire(good, owner("B"));
        assertTrue(locking.release(good, owner("B")));
    }

    @Test
    @DisplayName("bad options are rejected, naming the argument")
    void badOptionsAreRejected() {
        LockOptions d = LockOptions.defaults();
        assertIllegal("expire must be positive", () -> d.expire(Duration.ofSeconds(-1)));
        assertIllegal("expire must be positive", () -> d.expire(Duration.ZERO));
        assertIllegal("expire must be at least 1 ms", () -> d.expire(Duration.ofNanos(10)));
        assertIllegal("expire must not be null", () -> d.expire(null));
        assertIllegal("timeout must not be negative", () -> d.timeout(Duration.ofMillis(-1)));
        assertIllegal("timeout must not be null", () -> d.timeout(null));
        assertIllegal("ownerId must not be blank", () -> d.owner(" "));
        assertIllegal("ownerId must not be null", () -> d.owner(null));
        assertIllegal("ownerId must be at most 1024 bytes", () -> d.owner("o".repeat(1025)));
        assertIllegal("providerId must not be blank", () -> d.provider(""));
        assertIllegal("options must not be null", () -> locking.acquire(key("k"), null));
        assertIllegal("options must not be null", () -> locking.releaseAll(null));
        assertIllegal("job must not be null", () -> locking.execute(key("k"), null));
        LockOptions original = d.owner("x");
        original.expire(Duration.ofSeconds(1));
        assertTrue(original.expire().isEmpty(), "options are immutable");
    }

    @Test
    @DisplayName("an unknown provider is rejected, listing the registered ones, and takes nothing")
    void unknownProviderIsRejected() {
        String k = key("k");
        UnknownProviderException e = assertThrows(
                UnknownProviderException.class,
                () -> locking.acquire(k, owner("A").provider("lp_no-such-provider")));
        assertTrue(e.getMessage().contains("lp_no-such-provider"), e.getMessage());
        String registered = locking.providers().get(0).address();
        assertTrue(e.getMessage().contains(registered), e.getMessage());
        assertThrows(
                UnknownProviderException.class,
                () -> locking.execute(k, lock -> null, LockOptions.defaults().provider("nope")));
        locking.acquire(k, owner("B"));
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("keys with wildcards, quotes, SQL, newlines and non-ASCII are ordinary keys")
    void oddKeysAreOrdinaryKeys() {
        List<String> odd = List.of(
                "*",
                "?",
                "[a-z]",
                "%",
                "_",
                "lock:*",
                "'; DROP TABLE locking; --",
                "\" OR 1=1 --",
                "a\nb",
                "tab\tkey",
                "ключ",
                "鍵",
                "🔒",
                "{tag}:a",
                "a}{b",
                "\\",
                "$1",
                "redis.call('flushall')",
                "   padded   ");
        List<String> keys = odd.stream().map(this::key).toList();
        for (String k : keys) locking.acquire(k, owner("A"));
        for (String k : keys) assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
        // A wildcard does not match its neighbours: the plain prefix is still free.
        locking.acquire(key(""), owner("B"));
        locking.acquire(key("x"), owner("B"));
        assertEquals(keys.size(), locking.releaseAll(owner("A")));
        assertEquals(2, locking.releaseAll(owner("B")));
        Lease all = locking.acquire(keys, owner("C").expire(Duration.ofSeconds(30)));
        assertEquals(keys.stream().sorted().toList(), all.keys());
        assertTrue(locking.release(keys, owner("C")));
    }

    @Test
    @DisplayName("owners with spaces, newlines and separators are exact owners, never one another")
    void oddOwnersAreExactOwners() {
        // Look-alikes of each other and of a record that packs fields with spaces: "token attempt flag marker".
        List<String> owners = List.of("A", "A ", " A", "A B", "a", "1 x.1 1 o:A", "o:A", "A\nB", "A\tB", "🔒 A");
        String k = key("odd-owner");
        for (String owner : owners) {
            Lease lease = locking.acquire(k, owner(owner).expire(Duration.ofSeconds(30)));
            assertEquals(owner(owner).owner(), lease.owner());
            Lease again = locking.acquire(k, owner(owner));
            assertTrue(again.fencingToken(k) > lease.fencingToken(k), "re-entry by the same owner");
            for (String other : owners) {
                if (other.equals(owner)) continue;
                assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner(other)), other);
                assertFalse(locking.release(k, owner(other)), other + " must not free " + owner + "'s lock");
                assertEquals(0, locking.releaseAll(owner(other)), other);
            }
            assertThrows(LockAcquisitionException.class, () -> locking.acquire(k));
            List<dev.locking.spi.HeldLock> listed = locking.locks(owner(owner), 10);
            assertEquals(
                    List.of(k),
                    listed.stream().map(dev.locking.spi.HeldLock::key).toList(),
                    owner);
            assertEquals(owner(owner).owner().orElseThrow(), listed.get(0).owner());
            assertTrue(locking.release(k, owner(owner)), owner);
        }
    }

    private static void assertIllegal(String expectedMessagePart, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(
                e.getMessage().contains(expectedMessagePart),
                "expected a message containing \"" + expectedMessagePart + "\", got \"" + e.getMessage() + "\"");
    }

    // ------------------------------------------------------------------ core: limits, closing, failed calls
    // (the bounds of a call's arguments, close() under load, and calls that fail after a grant)

    @Test
    @DisplayName("an expire past the maximum is rejected before any lock; the longest lease holds and releases")
    void expirePastTheMaximumIsRejectedBeforeAnyLock() {
        String k = key("k");
        assertIllegal(
                "expire must be at most 3650 days",
                () -> locking.execute(k, lock -> "ran", LockOptions.defaults().expire(Duration.ofDays(1_000_000))));
        assertIllegal("expire must be at most 3650 days", () -> owner("A").expire(Duration.ofSeconds(Long.MAX_VALUE)));
        locking.acquire(k, owner("B")); // the rejected call took nothing
        assertTrue(locking.release(k, owner("B")));

        // The longest lease fits the store's arithmetic: held, reported, released.
        Lease longest = locking.acquire(k, owner("A").expire(LockOptions.MAX_EXPIRE));
        java.time.Instant end = longest.expiresAt().orElseThrow();
        java.time.Instant expected = java.time.Instant.now().plus(LockOptions.MAX_EXPIRE);
        assertTrue(
                end.isAfter(expected.minus(Duration.ofDays(1))) && end.isBefore(expected.plus(Duration.ofDays(1))),
                "expiresAt " + end);
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(k, owner("B")));
        assertTrue(locking.release(k, owner("A")));
        assertEquals(
                "ran", locking.execute(k, lock -> "ran", LockOptions.defaults().expire(LockOptions.MAX_EXPIRE)));
        locking.acquire(k, owner("B")); // execute released it
        assertTrue(locking.release(k, owner("B")));
    }

    @Test
    @DisplayName("a timeout past the maximum means wait as long as it takes: lowered to the bound, never overflowing")
    void timeoutPastTheMaximumIsLoweredNotOverflowed() throws Exception {
        assertEquals(
                java.util.Optional.of(LockOptions.MAX_TIMEOUT),
                LockOptions.defaults()
                        .timeout(Duration.ofSeconds(Long.MAX_VALUE))
                        .timeout());
        String k = key("k");
        LockOptions forever = LockOptions.defaults().timeout(java.time.temporal.ChronoUnit.FOREVER.getDuration());
        assertEquals("ran", locking.execute(k, lock -> "ran", forever));
        locking.acquire(k, owner("A"));
        LockingService other = otherInstance();
        Future<Lease> waiter = async(() -> other.acquire(
                k, owner("B").timeout(Duration.ofSeconds(Long.MAX_VALUE)).expire(Duration.ofSeconds(30))));
        sleep(300); // let it park
        assertTrue(locking.release(k, owner("A")));
        assertEquals(List.of(k), await(waiter).keys());
        assertTrue((locksSpanInstances() ? locking : other).release(k, owner("B")));
    }

    @Test
    @DisplayName("a call may name up to the keys-per-call limit; one more is rejected before any lock")
    void keysPerCallLimitIsCheckedBeforeAnyLock() {
        int max = locking.maxKeysPerCall(LockOptions.defaults());
        assertTrue(max >= 1 && max <= LockingService.MAX_KEYS_PER_CALL, "limit " + max);
        List<String> most = new ArrayList<>();
        for (int i = 0; i < max; i++) most.add(key("many-" + i));
        List<String> tooMany = new ArrayList<>(most);
        tooMany.add(key("one-more"));
        assertIllegal("keys must name at most " + max + " distinct keys", () -> locking.acquire(tooMany, owner("A")));
        assertIllegal(
                "keys must name at most " + max + " distinct keys",
                () -> locking.execute(tooMany, lock -> "ran", LockOptions.defaults()));
        assertIllegal("keys must name at most " + max + " distinct keys", () -> locking.release(tooMany, owner("A")));
        locking.acquire(List.of(most.get(0), key("one-more")), owner("B")); // the rejected calls took nothing
        assertTrue(locking.release(List.of(most.get(0), key("one-more")), owner("B")));
        List<String> duplicated = new ArrayList<>(most);
        duplicated.addAll(most); // duplicates count once
        Lease all = locking.acquire(duplicated, owner("A").expire(Duration.ofSeconds(60)));
        assertEquals(max, all.keys().size());
        assertThrows(LockAcquisitionException.class, () -> locking.acquire(most.get(max / 2), owner("B")));
        assertTrue(locking.release(most, owner("A")));
        assertEquals(max, (int) locking.execute(most, lock -> lock.keys().size(), LockOptions.defaults()));
        locking.acquire(most.get(max - 1), owner("B")); // execute released them
        assertTrue(locking.release(most.get(max - 1), owner("B")));
    }

    /** A module of its own, even for a process-local store; the kit closes it after the test. */
    private LockingModule freshModule() {
        return track(newModule());
    }

    @Test
    @DisplayName("close() lets a running execute finish and release its keys; new and waiting calls fail as closed")
    void closeLetsARunningExecuteFinishAndRefusesNewCalls() throws Exception {
        String k = key("k");
        LockingModule closing = freshModule();
        CountDownLatch jobStarted = new CountDownLatch(1), jobMayEnd = new CountDownLatch(1);
        Future<String> job = async(() -> closing.execute(
                k,
                lock -> {
                    jobStarted.countDown();
                    assertTrue(jobMayEnd.await(LONG_WAIT.toSeconds(), TimeUnit.SECONDS));
                    return lock.isLost() ? "lost" : "done";
                },
                LockOptions.defaults().timeout(LONG_WAIT)));
        assertTrue(jobStarted.await(LONG_WAIT.toSeconds(), TimeUnit.SECONDS));
        Future<String> waiter = async(() ->
                closing.execute(k, lock -> "waiter ran", LockOptions.defaults().timeout(LONG_WAIT)));
        sleep(300); // let it park
        Future<Long> closer = async(() -> {
            closing.close();
            return System.nanoTime();
        });

        // The waiting call gives up at once: its job never runs after the drain.
        Exception refused = assertThrows(Exception.class, () -> await(waiter));
        assertTrue(refused.getCause() instanceof IllegalStateException, "expected closed, got " + refused.getCause());
        assertTrue(
                refused.getCause().getMessage().contains("closed"),
                refused.getCause().getMessage());
        IllegalStateException late = assertThrows(IllegalStateException.class, () -> closing.acquire(key("new")));
        assertTrue(late.getMessage().contains("closed"), late.getMessage());
        sleep(200);
        assertFalse(closer.isDone(), "close() returned while a job was still running");

        long jobEnds = System.nanoTime();
        jobMayEnd.countDown();
        assertEquals("done", await(job), "the job kept its lease through the drain and execute returned normally");
        assertTrue(await(closer) - jobEnds >= 0, "close() returned before the job ended");
        if (modulesShareStore()) {
            locking.acquire(k, owner("B")); // the job's execute released the key before the pools closed
            assertTrue(locking.release(k, owner("B")));
        }
    }

    @Test
    @DisplayName("a job still running when close() stops waiting loses its lease, its keys are released,"
            + " and its execute throws LockLostException")
    void jobOutlivingTheCloseDrainLosesItsLeaseAndKeys() throws Exception {
        String k = key("k");
        LockingModule closing = freshModule();
        CountDownLatch jobStarted = new CountDownLatch(1);
        Future<Boolean> job = async(() -> closing.execute(k, lock -> {
            jobStarted.countDown();
            long deadline = System.nanoTime() + LONG_WAIT.toNanos();
            while (!lock.isLost() && System.nanoTime() < deadline) sleep(20);
            return lock.isLost();
        }));
        assertTrue(jobStarted.await(LONG_WAIT.toSeconds(), TimeUnit.SECONDS));
        long start = System.nanoTime();
        closing.close(Duration.ofMillis(300));
        assertTrue(Duration.ofNanos(System.nanoTime() - start).toMillis() >= 300, "close() did not wait its drain");
        if (modulesShareStore()) {
            locking.acquire(k, owner("B")); // released by close(), although the job had not returned
            assertTrue(locking.release(k, owner("B")));
        }
        Exception e = assertThrows(Exception.class, () -> await(job));
        assertTrue(e.getCause() instanceof LockLostException, "expected LockLostException, got " + e.getCause());
        assertTrue(e.getCause().getMessage().contains("closed"), e.getCause().getMessage());
    }

    // ------------------------------------------------------------------ fuzz

    /**
     * Many threads (over two module instances where the store is shared) run short critical
     * sections on a few keys, through {@code execute} and through {@code acquire}/{@code release}
     * with owners and leases. Inside each, a per-key holder count must be exactly one, and an
     * unsynchronised read-then-write counter must lose no update.
     */
    @Test
    @DisplayName("fuzz: no two holders ever overlap and no counter update is lost")
    void fuzzNoOverlapNoLostUpdate() throws Exception {
        int threads = 8, rounds = fuzzRounds(), keyCount = 3;
        List<String> keys = new ArrayList<>();
        for (int i = 0; i < keyCount; i++) keys.add(key("fuzz" + i));
        AtomicInteger[] holders = new AtomicInteger[keyCount];
        java.util.concurrent.atomic.AtomicLongArray counters =
                new java.util.concurrent.atomic.AtomicLongArray(keyCount);
        AtomicLong sections = new AtomicLong();
        AtomicInteger overlaps = new AtomicInteger();
        for (int i = 0; i < keyCount; i++) holders[i] = new AtomicInteger();
        LockingService second = otherInstance();
        List<Future<Object>> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            LockingService instance = t % 2 == 0 ? locking : second;
            workers.add(async(() -> {
                java.util.Random random = new java.util.Random(thread * 7919L);
                for (int r = 0; r < rounds; r++) {
                    int i = random.nextInt(keyCount);
                    Runnable section = () -> {
                        if (holders[i].incrementAndGet() != 1) overlaps.incrementAndGet();
                        long seen = counters.get(i);
                        Thread.yield();
                        counters.set(i, seen + 1);
                        holders[i].decrementAndGet();
                        sections.incrementAndGet();
                    };
                    if (random.nextBoolean()) {
                        instance.execute(
                                keys.get(i),
                                lock -> {
                                    section.run();
                                    return null;
                                },
                                LockOptions.defaults().timeout(LONG_WAIT));
                    } else {
                        LockOptions who = owner("fuzz-" + thread).expire(Duration.ofSeconds(30));
                        instance.acquire(keys.get(i), who.timeout(LONG_WAIT));
                        section.run();
                        if (!instance.release(keys.get(i), who)) fail("release by the holder returned false");
                    }
                }
                return null;
            }));
        }
        for (Future<Object> w : workers) await(w);
        assertEquals(0, overlaps.get(), "two holders overlapped");
        long total = 0;
        for (int i = 0; i < keyCount; i++) total += counters.get(i);
        assertEquals(sections.get(), total, "an unsynchronised counter lost updates");
        assertEquals((long) threads * rounds, sections.get());
    }

    /** Rounds per fuzz thread; a provider over a network may lower it to stay within the CI budget. */
    protected int fuzzRounds() {
        return 150;
    }

    /** Sells a limited stock with a read, a pause and a write, as an unprotected shop would. */
    static final class StockRoom {
        private final AtomicInteger stock;
        private final AtomicInteger sold = new AtomicInteger();

        StockRoom(int stock) {
            this.stock = new AtomicInteger(stock);
        }

        boolean buy() {
            int left = stock.get();
            sleep(5); // the read-modify-write window a lock must close
            if (left <= 0) return false;
            stock.set(left - 1);
            sold.incrementAndGet();
            return true;
        }

        int stock() {
            return stock.get();
        }

        int sold() {
            return sold.get();
        }
    }
}
