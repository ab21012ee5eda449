package dev.locking.micrometer;

import dev.locking.core.LockingListener;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Micrometer meters for a {@link LockingModule}, tagged by registration ({@code provider =
 * lp_<id>}); keys and owners are never tags, since their number has no bound.
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>meter</th><th>type</th><th>what</th><th>tags</th></tr>
 *   <tr><td>{@code locking.acquire}</td><td>Timer</td><td>from an acquire or execute call to its grant
 *       or failure</td><td>{@code provider}, {@code outcome}: acquired, busy, timeout, error</td></tr>
 *   <tr><td>{@code locking.held}</td><td>Timer</td><td>from a grant to its release</td><td>{@code provider}</td></tr>
 *   <tr><td>{@code locking.lost}</td><td>Counter</td><td>leases lost while execute ran</td><td>{@code provider}</td></tr>
 *   <tr><td>{@code locking.waiting}</td><td>Gauge</td><td>callers waiting for a key now</td><td>{@code provider}</td></tr>
 * </table>
 *
 * <pre>{@code
 * new LockingMetrics(module).bindTo(registry);
 * }</pre>
 *
 * Every meter of every registration exists from {@link #bindTo} on, at zero, so dashboards and
 * alerts see them before the first call. The timers publish no histogram by themselves: enable
 * one with a {@code MeterFilter} or, in Spring Boot, {@code
 * management.metrics.distribution.percentiles-histogram.locking.acquire=true}.
 */
public final class LockingMetrics implements MeterBinder {
    private final LockingModule module;

    public LockingMetrics(LockingModule module) {
        if (module == null) throw new IllegalArgumentException("module must not be null");
        this.module = module;
    }

    /** Registers the meters in {@code registry} and records into them from now on; once per registry. */
    @Override
    public void bindTo(MeterRegistry registry) {
        if (registry == null) throw new IllegalArgumentException("registry must not be null");
        Map<String, Meters> byProvider = new HashMap<>();
        for (ProviderInfo info : module.providers()) {
            String provider = info.address();
            byProvider.put(provider, new Meters(registry, provider));
            Gauge.builder("locking.waiting", module, m -> waiting(m, provider))
                    .description("Callers of this application instance waiting for a key now")
                    .tag("provider", provider)
                    .register(registry);
        }
        module.addListener(new Recorder(Map.copyOf(byProvider)));
    }

    private static double waiting(LockingModule module, String provider) {
        try {
            return module.waitingCallers(provider);
        } catch (IllegalStateException closed) {
            return Double.NaN;
        }
    }

    /** The meters of one registration in one registry, made once so that recording is a field read. */
    private static final class Meters {
        final Map<LockingListener.Outcome, Timer> acquire = new EnumMap<>(LockingListener.Outcome.class);
        final Timer held;
        final Counter lost;

        Meters(MeterRegistry registry, String provider) {
            for (LockingListener.Outcome outcome : LockingListener.Outcome.values())
                acquire.put(
                        outcome,
                        Timer.builder("locking.acquire")
                                .description("From an acquire or execute call to its grant or failure")
                                .tag("provider", provider)
                                .tag("outcome", outcome.name().toLowerCase(Locale.ROOT))
                                .register(registry));
            held = Timer.builder("locking.held")
                    .description("From a grant to its release")
                    .tag("provider", provider)
                    .register(registry);
            lost = Counter.builder("locking.lost")
                    .description("Leases lost while execute ran")
                    .tag("provider", provider)
                    .register(registry);
        }
    }

    private record Recorder(Map<String, Meters> byProvider) implements LockingListener {
        @Override
        public void acquireEnded(String provider, Outcome outcome, long nanos) {
            Meters meters = byProvider.get(provider);
            if (meters != null) meters.acquire.get(outcome).record(nanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void holdEnded(String provider, long nanos) {
            Meters meters = byProvider.get(provider);
            if (meters != null) meters.held.record(nanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public void leaseLost(String provider) {
            Meters meters = byProvider.get(provider);
            if (meters != null) meters.lost.increment();
        }
    }
}
