package dev.locking.core;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.Lease;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockedJob;
import dev.locking.api.LockingConfigurationException;
import dev.locking.api.LockingService;
import dev.locking.api.UnknownProviderException;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point: discovers provider jars, registers the ones configured under {@code
 * locking.providers}, picks the default, and routes each call to the provider its options name.
 *
 * <pre>{@code
 * try (LockingModule locking = LockingModule.create()) {
 *     locking.execute("prod_123", lock -> reserveStock());
 * }
 * }</pre>
 *
 * Thread-safe; one instance per application is the intended use. {@link #close()} stops lease
 * renewals and closes every pool the providers opened (not DataSources the application handed in).
 */
public final class LockingModule implements LockingService, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LockingModule.class);

    private final ModuleSettings settings;
    private final ProviderDiscovery discovery;
    private final List<Registration> registrations;
    private final Registration defaultRegistration;
    private final Map<String, Registration> routes;
    private final List<ProviderInfo> infos;
    private final Background background;
    private final Undos undos;
    private final Lifecycle lifecycle = new Lifecycle();
    /** Held by close(): a second caller waits for the first to finish. */
    private final Object closing = new Object();

    private final Listeners listeners = new Listeners();
    private final AcquiredHolds acquiredHolds = new AcquiredHolds();
    private final ReleaseDeferral releaseDeferral;

    private LockingModule(
            Config config,
            Map<String, DataSource> dataSources,
            ClassLoader classLoader,
            ReleaseDeferral releaseDeferral) {
        this.releaseDeferral = releaseDeferral;
        List<String> problems = new ArrayList<>();
        this.settings = new ModuleSettings(config, problems);
        this.discovery = new ProviderDiscovery(classLoader);
        Selection selection = Selection.select(settings, discovery, dataSources, problems);
        if (!problems.isEmpty()) throw new LockingConfigurationException(problems);

        this.registrations = selection.registrations();
        this.defaultRegistration = selection.defaultRegistration();
        this.routes = selection.routes();
        this.infos = selection.infos();
        Selection.open(registrations);
        this.background = new Background(settings.renewalThreads);
        this.undos = new Undos(background);
        registrations.forEach(r -> r.useUndos(undos));
        registrations.forEach(r -> r.listeners(listeners));
        try {
            registrations.forEach(r -> log.info("Registered locking provider {} ({})", r.address(), r.identifier));
            ProviderInfo chosen =
                    infos.stream().filter(ProviderInfo::isDefault).findFirst().orElseThrow();
            log.info("Default locking provider: {} ({})", chosen.address(), chosen.reason());

            for (Registration r : registrations)
                r.provider()
                        .pollInterval()
                        .ifPresent(poll ->
                                background.repeat(poll.toNanos(), r::hasParkedWaiters, r::refreshParkedWaiters));
            if (settings.migrateOnStart) migrate();
        } catch (RuntimeException | Error failure) {
            // Nobody gets this module to close: close what it opened now (threads, pools, listeners).
            lifecycle.startClosing();
            background.shutdownNow();
            closeProviders(failure);
            throw failure;
        }
    }

    /** A module configured from {@code ConfigFactory.load()}: application.conf, system properties, reference.conf. */
    public static LockingModule create() {
        return create(ConfigFactory.load());
    }

    /** A module configured from {@code config}, which needs a {@code locking} block only to register providers. */
    public static LockingModule create(Config config) {
        return builder().config(config).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Configures a module beyond what configuration files can say, such as the application's own DataSource. */
    public static final class Builder {
        private Config config;
        private final Map<String, DataSource> dataSources = new LinkedHashMap<>();
        private ClassLoader classLoader;
        private ReleaseDeferral releaseDeferral;

        private Builder() {}

        /** The configuration to read {@code locking} from; default {@code ConfigFactory.load()}. */
        public Builder config(Config config) {
            if (config == null) throw new IllegalArgumentException("config must not be null");
            this.config = config;
            return this;
        }

        /**
         * Hands the registration {@code providerId} (its id, {@code lp_<id>}, or its identifier
         * when only one registration has it) an existing DataSource, so the provider uses the
         * application's own database and pool instead of opening one. The module never closes it.
         */
        public Builder dataSource(String providerId, DataSource dataSource) {
            if (providerId == null || providerId.isBlank())
                throw new IllegalArgumentException("providerId must not be blank");
            if (dataSource == null) throw new IllegalArgumentException("dataSource must not be null");
            dataSources.put(providerId, dataSource);
            return this;
        }

        /** Where to look for provider jars; default: the class loader of this library. */
        public Builder classLoader(ClassLoader classLoader) {
            if (classLoader == null) throw new IllegalArgumentException("classLoader must not be null");
            this.classLoader = classLoader;
            return this;
        }

        /**
         * Lets {@code deferral} hold {@code execute}'s keys past its job, e.g. until a transaction
         * commits; default: none, {@code execute} releases when its job ends.
         */
        public Builder releaseDeferral(ReleaseDeferral deferral) {
            if (deferral == null) throw new IllegalArgumentException("deferral must not be null");
            this.releaseDeferral = deferral;
            return this;
        }

        public LockingModule build() {
            Config c = config != null ? config : ConfigFactory.load();
            ClassLoader cl = classLoader != null ? classLoader : LockingModule.class.getClassLoader();
            return new LockingModule(c, Map.copyOf(dataSources), cl, releaseDeferral);
        }
    }

    /** What is registered, which is the default and why. */
    public List<ProviderInfo> providers() {
        return infos;
    }

    /**
     * The registration a call with these options goes to: the one its {@code provider(...)} names,
     * or the default.
     *
     * @throws UnknownProviderException when the options name no registration
     */
    public ProviderInfo providerFor(LockOptions options) {
        Registration registration = route(options);
        return infos.stream()
                .filter(i -> i.id().equals(registration.id))
                .findFirst()
                .orElseThrow();
    }

    /**
     * Whether the locks of the registration a call with these options goes to outlive this process
     * (see {@link dev.locking.spi.LockingProvider#locksOutliveProcess()}): false for in-memory and
     * for locking-postgres with {@code mode = "session"}, whose locks end when the process exits.
     *
     * @throws UnknownProviderException when the options name no registration
     */
    public boolean locksOutliveProcess(LockOptions options) {
        return route(options).provider().locksOutliveProcess();
    }

    /** Every provider jar found on the classpath, registered or not. */
    public List<FoundProvider> foundProviders() {
        return discovery.found();
    }

    /** Applies every registered provider's migrations; idempotent. */
    public void migrate() {
        migrations();
    }

    /** As {@link #migrate()}, returning what was applied now, per registration address. */
    public Map<String, List<String>> migrations() {
        lifecycle.enter();
        try {
            return applyMigrations();
        } finally {
            lifecycle.exit();
        }
    }

    private Map<String, List<String>> applyMigrations() {
        Map<String, List<String>> applied = new LinkedHashMap<>();
        for (Registration r : registrations) {
            List<String> lines = r.provider().migrate();
            lines.forEach(line -> log.info("Migrated {}: {}", r.address(), line));
            if (lines.isEmpty()) log.info("Migrations of {}: up to date", r.address());
            applied.put(r.address(), List.copyOf(lines));
        }
        return applied;
    }

    // ---- execute

    @Override
    public <T, X extends Exception> T execute(String key, LockedJob<T, X> job) throws X {
        return execute(Keys.single(key), job, LockOptions.defaults());
    }

    @Override
    public <T, X extends Exception> T execute(String key, LockedJob<T, X> job, LockOptions options) throws X {
        return execute(Keys.single(key), job, options);
    }

    @Override
    public <T, X extends Exception> T execute(Collection<String> keys, LockedJob<T, X> job, LockOptions options)
            throws X {
        lifecycle.enter();
        try {
            return executeCounted(keys, job, options);
        } finally {
            lifecycle.exit();
        }
    }

    private <T, X extends Exception> T executeCounted(Collection<String> keys, LockedJob<T, X> job, LockOptions options)
            throws X {
        List<String> sorted = Keys.normalize(keys);
        if (job == null) throw new IllegalArgumentException("job must not be null");
        Registration registration = route(options, sorted);
        Duration timeout = options.timeout().orElse(settings.executeTimeout);
        Duration lease = options.expire().orElse(settings.executeExpire);
        // A unique owner per call: two execute calls never share a lock, even with the same owner option.
        String owner = options.owner().map(o -> o + "/").orElse("execute/") + Ids.next();

        long calledAt = System.nanoTime();
        Registration.Grant grant = take(registration, sorted, owner, lease, timeout, calledAt, true);
        long grantedAt = System.nanoTime();
        ExecuteContext context = new ExecuteContext(registration, sorted, owner, lease, grant);
        try {
            context.startRenewal(background, lifecycle);
        } catch (RuntimeException e) { // the module was closed while the call waited: the job does not start
            end(context, registration, grantedAt);
            throw e;
        }
        T result;
        try {
            result = job.run(context);
        } catch (Throwable failure) {
            if (deferred(context, registration, grantedAt)) throw failure;
            LockLostException lost = end(context, registration, grantedAt);
            if (lost != null) failure.addSuppressed(lost);
            throw failure;
        }
        if (!context.isLost() && deferred(context, registration, grantedAt)) return result;
        LockLostException lost = end(context, registration, grantedAt);
        if (lost != null) throw lost;
        return result;
    }

    /**
     * Whether the release deferral took over the release of this execute call's keys. A deferred
     * release counts as a call under way until it runs, so {@link #close(Duration)} waits for it.
     */
    private boolean deferred(ExecuteContext context, Registration registration, long grantedAt) {
        if (releaseDeferral == null) return false;
        lifecycle.hold();
        ExecuteRelease release = new ExecuteRelease(registration.address(), context, () -> {
            try {
                return end(context, registration, grantedAt);
            } finally {
                lifecycle.exit();
            }
        });
        boolean deferred;
        try {
            deferred = releaseDeferral.defer(release);
        } catch (RuntimeException e) {
            log.warn("ReleaseDeferral {} failed; releasing {} now", releaseDeferral, context.keys(), e);
            deferred = false;
        }
        if (deferred) return true;
        // Not taken over: the caller releases, unless the deferral already did.
        if (!release.cancel()) return true;
        lifecycle.exit();
        return false;
    }

    /** Takes the keys of an acquire or execute call, and tells the listeners how that went. */
    private Registration.Grant take(
            Registration registration,
            List<String> keys,
            String owner,
            Duration lease,
            Duration timeout,
            long calledAt,
            boolean ownerIsUnique) {
        Registration.Grant grant;
        try {
            grant = registration.acquire(keys, owner, lease, timeout, ownerIsUnique);
        } catch (RuntimeException e) {
            listeners.acquireFailed(registration.address(), calledAt, e);
            throw e;
        }
        listeners.acquired(registration.address(), calledAt, System.nanoTime());
        return grant;
    }

    /** Ends an execute call's hold: releases, and tells the listeners. */
    private LockLostException end(ExecuteContext context, Registration registration, long grantedAt) {
        LockLostException lost = context.end();
        listeners.holdEnded(registration.address(), grantedAt);
        if (lost != null) listeners.leaseLost(registration.address());
        return lost;
    }

    // ---- acquire / release

    @Override
    public Lease acquire(String key) {
        return acquire(Keys.single(key), LockOptions.defaults());
    }

    @Override
    public Lease acquire(String key, LockOptions options) {
        return acquire(Keys.single(key), options);
    }

    @Override
    public Lease acquire(Collection<String> keys, LockOptions options) {
        lifecycle.enter();
        try {
            return acquireCounted(keys, options);
        } finally {
            lifecycle.exit();
        }
    }

    private Lease acquireCounted(Collection<String> keys, LockOptions options) {
        List<String> sorted = Keys.normalize(keys);
        Registration registration = route(options, sorted);
        String owner = options.owner().orElse(null);
        Duration lease = options.expire().orElse(null);
        long calledAt = System.nanoTime();
        Registration.Grant grant =
                take(registration, sorted, owner, lease, options.timeout().orElse(Duration.ZERO), calledAt, false);
        if (!listeners.isEmpty())
            acquiredHolds.granted(registration.address(), owner, sorted, System.nanoTime(), lease);
        AcquireResult.Acquired acquired = grant.acquired();
        return new SimpleLease(sorted, owner, acquired.fencingTokens(), acquired.expiresAt(), registration.address());
    }

    @Override
    public boolean release(String key) {
        return release(Keys.single(key), LockOptions.defaults());
    }

    @Override
    public boolean release(String key, LockOptions options) {
        return release(Keys.single(key), options);
    }

    @Override
    public boolean release(Collection<String> keys, LockOptions options) {
        List<String> sorted = Keys.normalize(keys);
        Registration registration = route(options, sorted);
        String owner = options.owner().orElse(null);
        lifecycle.enter();
        try {
            boolean released = registration.provider().release(sorted, owner);
            Long grantedAt = acquiredHolds.released(registration.address(), owner, sorted);
            if (released && grantedAt != null) listeners.holdEnded(registration.address(), grantedAt);
            return released;
        } finally {
            lifecycle.exit();
        }
    }

    @Override
    public int releaseAll(LockOptions options) {
        Registration registration = route(options);
        String owner = options.owner().orElse(null);
        lifecycle.enter();
        try {
            int released = registration.provider().releaseAll(owner);
            for (long grantedAt : acquiredHolds.releasedAll(registration.address(), owner))
                listeners.holdEnded(registration.address(), grantedAt);
            return released;
        } finally {
            lifecycle.exit();
        }
    }

    // ---- listeners

    /**
     * Registers a listener for this module's lock calls (metrics, tracing). It hears calls that
     * start after it was added. See {@link LockingListener} for what it must not do.
     */
    public void addListener(LockingListener listener) {
        listeners.add(listener);
    }

    /** Unregisters a listener; returns whether it was registered. */
    public boolean removeListener(LockingListener listener) {
        return listeners.remove(listener);
    }

    /**
     * How many callers of this module wait now for a key of the registration {@code provider}
     * names ({@code lp_<id>}, {@code <id>}, or an unambiguous identifier).
     *
     * @throws UnknownProviderException when it names no registration
     */
    public int waitingCallers(String provider) {
        return route(LockOptions.defaults().provider(provider)).waitingCallers();
    }

    /**
     * Proves that the registration {@code provider} names ({@code lp_<id>}, {@code <id>}, or an
     * unambiguous identifier) grants and frees locks: takes a fresh key of its own ({@code
     * locking-check/<unique>}, with a lease of {@value #CHECK_LEASE_SECONDS} s should the release
     * not arrive) without waiting, and releases it. For health checks: listeners do not hear it, so
     * it never shows in the application's lock metrics, and it never waits behind the
     * application's keys.
     *
     * @return how long the take and the release took
     * @throws UnknownProviderException when it names no registration
     * @throws dev.locking.api.LockingException when the store fails or cannot be reached
     */
    public Duration check(String provider) {
        Registration registration = route(LockOptions.defaults().provider(provider));
        List<String> key = List.of(CHECK_KEY_PREFIX + Ids.next());
        lifecycle.enter();
        try {
            long started = System.nanoTime();
            registration.acquire(key, key.get(0), Duration.ofSeconds(CHECK_LEASE_SECONDS), Duration.ZERO, true);
            registration.provider().release(key, key.get(0));
            return Duration.ofNanos(System.nanoTime() - started);
        } finally {
            lifecycle.exit();
        }
    }

    /** Prefix of the keys {@link #check} takes. */
    public static final String CHECK_KEY_PREFIX = "locking-check/";

    private static final long CHECK_LEASE_SECONDS = 10;

    /**
     * The locks held now in the provider {@code options} names (or the default), only those of
     * its owner when one is set, at most {@code limit}, sorted by key.
     *
     * @throws UnsupportedOperationException when that provider cannot list its locks
     */
    public List<HeldLock> locks(LockOptions options, int limit) {
        if (limit < 1) throw new IllegalArgumentException("limit must be 1 or more, was " + limit);
        Registration registration = route(options);
        lifecycle.enter();
        try {
            return registration
                    .provider()
                    .list(options.owner().orElse(null), limit)
                    .orElseThrow(() -> new UnsupportedOperationException(registration + " cannot list its locks"));
        } finally {
            lifecycle.exit();
        }
    }

    /**
     * The most distinct keys one call may name in the registration these options route to: {@link
     * LockingService#MAX_KEYS_PER_CALL}, or the provider's lower limit.
     */
    public int maxKeysPerCall(LockOptions options) {
        return route(options).maxKeysPerCall();
    }

    // ---- routing and lifecycle

    /** As {@link #route(LockOptions)}, and rejects more keys than that registration takes in one call. */
    private Registration route(LockOptions options, List<String> keys) {
        Registration registration = route(options);
        Keys.requireAtMost(keys.size(), registration.maxKeysPerCall(), registration);
        return registration;
    }

    private Registration route(LockOptions options) {
        if (options == null) throw new IllegalArgumentException("options must not be null");
        ensureOpen();
        String name = options.provider().orElse(null);
        if (name == null) return defaultRegistration;
        Registration registration = routes.get(name);
        if (registration == null)
            throw new UnknownProviderException(
                    name,
                    registrations.stream()
                            .map(r -> r.address() + " (" + r.identifier + ")")
                            .toList());
        return registration;
    }

    private void ensureOpen() {
        if (lifecycle.isClosing()) throw Lifecycle.closed();
    }

    /**
     * Closes the module, waiting up to {@code locking.shutdown-timeout} (30 s by default) for the
     * calls under way. See {@link #close(Duration)}.
     */
    @Override
    public void close() {
        close(settings.shutdownTimeout);
    }

    /**
     * Closes the module. Idempotent; a second caller returns once the first has finished.
     *
     * <ol>
     *   <li>New calls fail with {@link IllegalStateException} ("This LockingModule is closed"), and
     *       so do calls waiting for a key: their jobs never start.
     *   <li>Calls under way get up to {@code drain} to end; {@code execute} jobs keep their leases
     *       renewed meanwhile, and release their keys when they end, as always.
     *   <li>A job still running after {@code drain} loses its lease now: its {@link
     *       dev.locking.api.LockContext#isLost()} turns true, its keys are released (best effort,
     *       logged when the store cannot be reached: the lease then frees them), and its {@code
     *       execute} throws {@link LockLostException} when the job returns.
     *   <li>What failed calls may have left held and the background has not freed yet gets one
     *       last try (logged as an error when it fails too).
     *   <li>Renewals stop and every provider is closed, and with it every pool it opened (not a
     *       DataSource the application handed in).
     * </ol>
     *
     * @param drain zero or positive; how long to wait for the calls under way
     */
    public void close(Duration drain) {
        if (drain == null || drain.isNegative())
            throw new IllegalArgumentException("drain must be zero or positive, was " + drain);
        synchronized (closing) {
            if (!lifecycle.startClosing()) return;
            registrations.forEach(Registration::shutdown);
            boolean drained;
            try {
                drained = lifecycle.awaitIdle(Math.min(drain.toNanos(), LockOptions.MAX_TIMEOUT.toNanos()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                drained = false;
            }
            if (!drained) {
                List<ExecuteContext> jobs = lifecycle.jobs();
                if (!jobs.isEmpty())
                    log.warn(
                            "Closing the LockingModule: {} execute job(s) still running after {}; their leases count"
                                    + " as lost and their keys are released now",
                            jobs.size(),
                            drain);
                for (ExecuteContext job : jobs)
                    job.abandon("the LockingModule was closed before the job ended (drain " + drain + ")");
            }
            undos.finish();
            background.shutdownNow();
            closeProviders(null);
        }
    }

    /** Closes every provider; a failure is logged, and added to {@code startFailure} when there is one. */
    private void closeProviders(Throwable startFailure) {
        for (Registration r : registrations) {
            try {
                r.provider().close();
            } catch (RuntimeException e) {
                if (startFailure != null) startFailure.addSuppressed(e);
                log.warn("Closing locking provider {} failed", r.address(), e);
            }
        }
    }

    @Override
    public String toString() {
        return "LockingModule" + infos.stream().map(ProviderInfo::address).toList();
    }
}
