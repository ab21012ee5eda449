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
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
    private final ScheduledThreadPoolExecutor scheduler;
    private final Listeners listeners = new Listeners();
    private final AcquiredHolds acquiredHolds = new AcquiredHolds();
    private final ReleaseDeferral releaseDeferral;
    private volatile boolean closed;

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
        registrations.forEach(r -> r.listeners(listeners));
        registrations.forEach(r -> log.info("Registered locking provider {} ({})", r.address(), r.identifier));
        ProviderInfo chosen =
                infos.stream().filter(ProviderInfo::isDefault).findFirst().orElseThrow();
        log.info("Default locking provider: {} ({})", chosen.address(), chosen.reason());

        this.scheduler = new ScheduledThreadPoolExecutor(settings.renewalThreads, daemonThreads());
        scheduler.setRemoveOnCancelPolicy(true);
        for (Registration r : registrations)
            r.provider().pollInterval().ifPresent(poll -> {
                long nanos = Math.max(1, poll.toNanos());
                scheduler.scheduleWithFixedDelay(r::refreshParkedWaiters, nanos, nanos, TimeUnit.NANOSECONDS);
            });
        if (settings.migrateOnStart) migrate();
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
        ensureOpen();
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
        List<String> sorted = Keys.normalize(keys);
        if (job == null) throw new IllegalArgumentException("job must not be null");
        Registration registration = route(options);
        Duration timeout = options.timeout().orElse(settings.executeTimeout);
        Duration lease = options.expire().orElse(settings.executeExpire);
        // A unique owner per call: two execute calls never share a lock, even with the same owner option.
        String owner = options.owner().map(o -> o + "/").orElse("execute/") + Ids.next();

        long calledAt = System.nanoTime();
        Registration.Grant grant = take(registration, sorted, owner, lease, timeout, calledAt);
        long grantedAt = System.nanoTime();
        ExecuteContext context = new ExecuteContext(registration, sorted, owner, lease, grant);
        try {
            context.startRenewal(scheduler);
        } catch (RuntimeException e) { // the module was closed under us
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

    /** Whether the release deferral took over the release of this execute call's keys. */
    private boolean deferred(ExecuteContext context, Registration registration, long grantedAt) {
        if (releaseDeferral == null) return false;
        ExecuteRelease release =
                new ExecuteRelease(registration.address(), context, () -> end(context, registration, grantedAt));
        try {
            return releaseDeferral.defer(release);
        } catch (RuntimeException e) {
            log.warn("ReleaseDeferral {} failed; releasing {} now", releaseDeferral, context.keys(), e);
            return release.done();
        }
    }

    /** Takes the keys of an acquire or execute call, and tells the listeners how that went. */
    private Registration.Grant take(
            Registration registration,
            List<String> keys,
            String owner,
            Duration lease,
            Duration timeout,
            long calledAt) {
        Registration.Grant grant;
        try {
            grant = registration.acquire(keys, owner, lease, timeout);
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
        List<String> sorted = Keys.normalize(keys);
        Registration registration = route(options);
        String owner = options.owner().orElse(null);
        Duration lease = options.expire().orElse(null);
        long calledAt = System.nanoTime();
        Registration.Grant grant =
                take(registration, sorted, owner, lease, options.timeout().orElse(Duration.ZERO), calledAt);
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
        Registration registration = route(options);
        String owner = options.owner().orElse(null);
        boolean released = registration.provider().release(sorted, owner);
        Long grantedAt = acquiredHolds.released(registration.address(), owner, sorted);
        if (released && grantedAt != null) listeners.holdEnded(registration.address(), grantedAt);
        return released;
    }

    @Override
    public int releaseAll(LockOptions options) {
        Registration registration = route(options);
        String owner = options.owner().orElse(null);
        int released = registration.provider().releaseAll(owner);
        for (long grantedAt : acquiredHolds.releasedAll(registration.address(), owner))
            listeners.holdEnded(registration.address(), grantedAt);
        return released;
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
        long started = System.nanoTime();
        registration.acquire(key, key.get(0), Duration.ofSeconds(CHECK_LEASE_SECONDS), Duration.ZERO);
        registration.provider().release(key, key.get(0));
        return Duration.ofNanos(System.nanoTime() - started);
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
        return registration
                .provider()
                .list(options.owner().orElse(null), limit)
                .orElseThrow(() -> new UnsupportedOperationException(registration + " cannot list its locks"));
    }

    // ---- routing and lifecycle

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
        if (closed) throw new IllegalStateException("This LockingModule is closed");
    }

    /** Stops renewals and closes every provider, and so every pool a provider opened. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        scheduler.shutdownNow();
        for (Registration r : registrations) {
            try {
                r.provider().close();
            } catch (RuntimeException e) {
                log.warn("Closing locking provider {} failed", r.address(), e);
            }
        }
    }

    @Override
    public String toString() {
        return "LockingModule" + infos.stream().map(ProviderInfo::address).toList();
    }

    private static ThreadFactory daemonThreads() {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, "locking-renewal-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
