package dev.locking.core;

import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockTimeoutException;
import dev.locking.api.LockingException;
import dev.locking.api.LockingService;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.LockingProvider;
import dev.locking.spi.LockingProviderFactory;
import dev.locking.spi.ProviderContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One configured provider: its store, its local waiters, and the waiting policy over them. */
final class Registration implements ProviderContext {
    private static final Logger log = LoggerFactory.getLogger(Registration.class);
    /** A store that reports a lease ending "now" is re-asked after at least this long. */
    private static final long MIN_PARK_NANOS = Duration.ofMillis(1).toNanos();

    final String id;
    final String identifier;
    final String description;
    private final String optionsPath;
    private final Map<String, Object> options;
    private DataSource dataSource;
    private final LocalWaiters waiters = new LocalWaiters();
    private final LockingProviderFactory factory;
    private LockingProvider provider;
    /** Frees what failed attempts may have taken; set by the module before the first call. */
    private volatile Undos undos;
    /** Set when the module closes: a waiting caller gives up instead of running after the drain. */
    private volatile boolean closing;
    /** The provider's limit of keys per call, within the API's; read at start. */
    private int maxKeysPerCall = LockingService.MAX_KEYS_PER_CALL;
    /** Whether the provider refreshes parked waiters in bulk (asked with an empty list at start). */
    private volatile boolean bulkRefresh = true;

    private Listeners listeners = new Listeners();

    Registration(String id, LockingProviderFactory factory, String optionsPath, Map<String, Object> options) {
        this.id = id;
        this.factory = factory;
        this.identifier = factory.identifier();
        this.description = ProviderDiscovery.describe(factory);
        this.optionsPath = optionsPath;
        this.options = options;
    }

    /** The application's DataSource for this registration; set before {@link #open}. */
    void bind(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    void open() {
        provider = factory.create(this);
        if (provider == null) throw new IllegalStateException(factory.getClass().getName() + ".create returned null");
        bulkRefresh = provider.pollInterval().isPresent() && provider.refreshWaiters(Map.of());
        maxKeysPerCall = Math.max(1, Math.min(LockingService.MAX_KEYS_PER_CALL, provider.maxKeysPerCall()));
    }

    /** The most distinct keys one call may name here. */
    int maxKeysPerCall() {
        return maxKeysPerCall;
    }

    /** The module's listeners, told when a caller starts and stops waiting; set once, before any call. */
    void listeners(Listeners listeners) {
        this.listeners = listeners;
    }

    /** How many callers of this process wait now for a key of this registration. */
    int waitingCallers() {
        return waiters.size();
    }

    LockingProvider provider() {
        return provider;
    }

    String address() {
        return "lp_" + id;
    }

    /**
     * A grant and the earliest its lease can have begun: when the attempt that won it started, or,
     * for a grant the store made on the waiter's behalf, when the wait began.
     */
    record Grant(AcquireResult.Acquired acquired, long attemptStartedNanos) {}

    /**
     * Takes {@code keys}, waiting up to {@code timeout} in arrival order. Parks between attempts
     * until a release signal, the blocking lease's end, the provider's poll interval or the
     * deadline, whichever comes first, then makes one last attempt at the deadline.
     */
    Grant acquire(List<String> keys, String owner, Duration lease, Duration timeout) {
        return acquire(keys, owner, lease, timeout, false);
    }

    /** @param ownerIsUnique true when no other call uses {@code owner} (execute's) */
    Grant acquire(List<String> keys, String owner, Duration lease, Duration timeout, boolean ownerIsUnique) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String grantId = Ids.next();
        // Uncontended calls take one attempt and never touch the wait queues.
        long firstStarted = System.nanoTime();
        AcquireResult first =
                attempt(new AcquireRequest(keys, owner, lease, null, budget(deadline), grantId), ownerIsUnique);
        if (first instanceof AcquireResult.Acquired acquired) return new Grant(acquired, firstStarted);
        if (timeout.isZero()) throw new LockAcquisitionException(((AcquireResult.Blocked) first).key());
        return await(keys, owner, lease, deadline, grantId, ownerIsUnique);
    }

    /**
     * One attempt. One that throws may have been granted all the same (the reply was lost after
     * the store committed); its caller gets the exception and never learns of the keys, so they are
     * freed in the background, unless the provider knows the store was left untouched.
     */
    private AcquireResult attempt(AcquireRequest request, boolean ownerIsUnique) {
        try {
            return provider.tryAcquire(request);
        } catch (RuntimeException | Error failure) {
            Undos undos = this.undos;
            if (undos != null && (!(failure instanceof RuntimeException r) || provider.mayHaveTaken(r)))
                undos.undo(
                        this,
                        request.keys(),
                        request.owner(),
                        ownerIsUnique,
                        request.grantId(),
                        request.lease(),
                        System.nanoTime());
            throw failure;
        }
    }

    private Grant await(
            List<String> keys, String owner, Duration lease, long deadline, String grantId, boolean ownerIsUnique) {
        long pollNanos = provider.pollInterval().map(Duration::toNanos).orElse(Long.MAX_VALUE);
        LocalWaiters.Waiter waiter = waiters.register(keys, lease);
        listeners.waitingStarted(address());
        boolean acquired = false;
        try {
            while (true) {
                if (closing) throw Lifecycle.closed();
                long started = System.nanoTime();
                AcquireResult result = attempt(
                        new AcquireRequest(keys, owner, lease, waiter.id, budget(deadline), grantId), ownerIsUnique);
                if (result instanceof AcquireResult.Acquired granted) {
                    acquired = true;
                    return new Grant(granted, started);
                }
                AcquireResult.Blocked blocked = (AcquireResult.Blocked) result;
                if (blocked.aheadWaiterId() != null) waiters.wake(blocked.aheadWaiterId());
                // A release this waiter was woken for but could not use (it is blocked on another
                // key) may be the turn of a later local waiter: the store's queue order and the
                // local arrival order can differ, so pass the wake on rather than lose it.
                for (String key : waiter.takeSignalledKeys())
                    if (!key.equals(blocked.key())) waiters.passOn(key, waiter);
                long remaining = deadline - System.nanoTime();
                if (remaining <= 0) throw new LockTimeoutException(blocked.key());
                // The first local waiter of a key polls as the backstop for a lost notification;
                // the rest are kept in their queues by the bulk refresh, and retry rarely.
                long poll = !bulkRefresh || waiters.isFirstOfAnyKey(waiter) ? pollNanos : safetyRetryNanos(pollNanos);
                long park = Math.min(remaining, poll);
                if (blocked.retryAfter() != null)
                    park = Math.min(
                            park, Math.max(MIN_PARK_NANOS, blocked.retryAfter().toNanos()));
                try {
                    waiter.await(park);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new LockingException(
                            "Interrupted while waiting for lock on keys " + keys + " in " + address(), e);
                }
                // A grant the store made for this waiter (a release handed it the keys): its lease
                // began after this wait's first attempt queued the waiter.
                AcquireResult.Acquired handed = waiter.handedGrant();
                if (handed != null) {
                    acquired = true;
                    return new Grant(handed, waiter.registeredAt);
                }
            }
        } catch (RuntimeException e) {
            // Timed out, interrupted or failed: a grant handed over meanwhile is still the
            // caller's, since the provider was told it was taken.
            AcquireResult.Acquired handed = waiter.close();
            if (handed != null) {
                acquired = true;
                return new Grant(handed, waiter.registeredAt);
            }
            throw e;
        } finally {
            waiters.unregister(waiter);
            listeners.waitingEnded(address());
            if (!acquired) {
                try {
                    provider.leaveQueue(keys, waiter.id);
                } catch (RuntimeException e) {
                    log.warn(
                            "Could not leave the wait queue of {} in {}; the store drops it after a few poll intervals",
                            Keys.printable(keys),
                            address(),
                            e);
                }
                // A signal this waiter took and did not use belongs to the next one in line.
                keys.forEach(waiters::keyReleased);
            }
        }
    }

    private static long safetyRetryNanos(long pollNanos) {
        if (pollNanos == Long.MAX_VALUE) return pollNanos;
        long retry = pollNanos * LockingProvider.SAFETY_RETRY_POLLS;
        return retry - java.util.concurrent.ThreadLocalRandom.current().nextLong(retry / 4 + 1);
    }

    void useUndos(Undos undos) {
        this.undos = undos;
    }

    /** Fails every caller waiting here from now on (the module is closing) and wakes those parked. */
    void shutdown() {
        closing = true;
        waiters.wakeAll();
    }

    /** Whether a bulk refresh has anything to do; cheap, for the scheduler thread. */
    boolean hasParkedWaiters() {
        return bulkRefresh && !waiters.isEmpty();
    }

    /**
     * Keeps every waiter parked in this process in its queues with one call; runs on a worker of
     * its own every poll interval, apart from lease renewals. Turns itself off for a provider
     * without bulk refresh.
     */
    void refreshParkedWaiters() {
        if (!bulkRefresh) return;
        Map<String, List<String>> parked = waiters.keysByWaiterId();
        if (parked.isEmpty()) return;
        try {
            if (!provider.refreshWaiters(parked)) bulkRefresh = false;
        } catch (RuntimeException e) {
            log.debug(
                    "Refreshing {} parked waiters of {} failed; their next attempts refresh them",
                    parked.size(),
                    address(),
                    e);
        }
    }

    private static Duration budget(long deadline) {
        return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
    }

    // ProviderContext, handed to the factory.

    @Override
    public String registrationId() {
        return id;
    }

    @Override
    public Map<String, Object> options() {
        return options;
    }

    @Override
    public String optionsPath() {
        return optionsPath;
    }

    @Override
    public Optional<DataSource> dataSource() {
        return Optional.ofNullable(dataSource);
    }

    @Override
    public void keyReleased(String key) {
        waiters.keyReleased(key);
    }

    @Override
    public boolean granted(String waiterId, AcquireResult.Acquired grant) {
        return waiters.grant(waiterId, grant);
    }

    @Override
    public String toString() {
        return address() + " (" + identifier + ")";
    }
}
