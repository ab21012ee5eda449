package dev.locking.cli;

import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import me.tongfei.progressbar.ProgressBar;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

@Command(
        name = "bench",
        header = "Load-test one provider: ops/s, acquire and hand-over latency.",
        description = "A quick load test of one provider: --threads callers each acquire a random one of --keys "
                + "keys (waiting up to --timeout), release it, and repeat for --duration. Prints operations "
                + "per second, acquire latency p50/p99/max, and hand-over latency: from a holder calling "
                + "release to the caller that was waiting for that key holding it. Fewer keys than threads "
                + "means contention. Keys are bench:<run id>:<n>, so it never touches an application's locks.")
final class BenchCommand extends BaseCommand {

    @Option(
            names = "--provider",
            paramLabel = "ID",
            description = "Registration to load: lp_<id>, <id>, or an identifier. Default: the default provider.")
    String provider;

    @Option(
            names = "--threads",
            paramLabel = "N",
            defaultValue = "8",
            description = "Concurrent callers (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(
            names = "--duration",
            paramLabel = "DURATION",
            defaultValue = "10s",
            converter = DurationConverter.class,
            description = "How long to run (default: ${DEFAULT-VALUE}).")
    Duration duration;

    @Option(
            names = "--keys",
            paramLabel = "K",
            defaultValue = "4",
            description = "Distinct keys the callers pick from (default: ${DEFAULT-VALUE}).")
    int keys;

    @Option(
            names = "--timeout",
            paramLabel = "DURATION",
            defaultValue = "5s",
            converter = DurationConverter.class,
            description = "How long one acquire waits before it counts as a timeout (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    /** Latencies are recorded in microseconds, from 1 µs up to an hour, to three significant digits. */
    private static final long HIGHEST_MICROS = TimeUnit.HOURS.toMicros(1);

    @Override
    int execute() throws Exception {
        if (threads < 1 || threads > 1024)
            throw new ParameterException(spec.commandLine(), "--threads must be 1 to 1024, was " + threads);
        if (keys < 1 || keys > 1_000_000)
            throw new ParameterException(spec.commandLine(), "--keys must be 1 to 1000000, was " + keys);
        if (duration.isZero() || duration.compareTo(Duration.ofHours(1)) > 0)
            throw new ParameterException(spec.commandLine(), "--duration must be more than 0 and at most 1h");
        LockOptions base = LockOptions.defaults().timeout(timeout).expire(Duration.ofSeconds(30));
        if (provider != null) base = base.provider(provider);
        ConfigLookup.Loaded config = configuration();
        if (!config.providersConfigured())
            err().println("locking: note: no locking.providers configured (configuration: "
                    + Terminal.text(config.source())
                    + "): benchmarking the in-memory default, inside this process");

        try (LockingModule module = openModule()) {
            String address = target(module, provider).map(ProviderInfo::address).orElse(provider);
            String identifier =
                    target(module, provider).map(ProviderInfo::identifier).orElse("?");
            // A first call outside the clock: opens connections, fails fast on a bad provider or store.
            String runId = UUID.randomUUID().toString().substring(0, 8);
            String warmupOwner = "bench-" + runId + "-warmup";
            module.acquire("bench:" + runId + ":warmup", base.owner(warmupOwner));
            module.release("bench:" + runId + ":warmup", base.owner(warmupOwner));

            Result result = load(module, base, runId);
            print(result, address, identifier);
            if (result.failure != null) throw result.failure;
            return ExitCodes.OK;
        }
    }

    private static final class Result {
        final Histogram acquire = new Histogram(1, HIGHEST_MICROS, 3);
        final Histogram handover = new Histogram(1, HIGHEST_MICROS, 3);
        long operations;
        long timeouts;
        Duration elapsed;
        RuntimeException failure;
    }

    private Result load(LockingModule module, LockOptions base, String runId) throws InterruptedException {
        String[] keyNames = new String[keys];
        for (int i = 0; i < keys; i++) keyNames[i] = "bench:" + runId + ":" + i;
        // When each key's last release started; a caller that began waiting before it measures hand-over.
        AtomicLongArray releaseStarted = new AtomicLongArray(keys);
        for (int i = 0; i < keys; i++) releaseStarted.set(i, Long.MIN_VALUE);
        AtomicLong operations = new AtomicLong();
        AtomicLong timeouts = new AtomicLong();
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch start = new CountDownLatch(1);
        long runNanos = duration.toNanos();
        AtomicLong deadline = new AtomicLong(Long.MAX_VALUE);

        ExecutorService pool = Executors.newFixedThreadPool(threads, daemonThreads());
        Result result = new Result();
        try (ProgressBar bar = Progress.start("bench", duration.toMillis(), environment(), err(), "s", 1000)) {
            List<Future<Histogram[]>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                LockOptions options = base.owner("bench-" + runId + "-" + t);
                futures.add(pool.submit(() -> {
                    Histogram acquire = new Histogram(1, HIGHEST_MICROS, 3);
                    Histogram handover = new Histogram(1, HIGHEST_MICROS, 3);
                    ready.countDown();
                    start.await();
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    try {
                        while (System.nanoTime() < deadline.get()) {
                            int k = random.nextInt(keys);
                            long asked = System.nanoTime();
                            try {
                                module.acquire(keyNames[k], options);
                            } catch (LockTimeoutException e) {
                                timeouts.incrementAndGet();
                                continue;
                            }
                            long held = System.nanoTime();
                            acquire.recordValue(micros(held - asked));
                            long released = releaseStarted.get(k);
                            if (released != Long.MIN_VALUE && released > asked)
                                handover.recordValue(micros(held - released));
                            releaseStarted.set(k, System.nanoTime());
                            module.release(keyNames[k], options);
                            operations.incrementAndGet();
                        }
                    } catch (RuntimeException e) {
                        deadline.set(0); // a failed caller ends the run for all: the store is in trouble
                        throw e;
                    }
                    return new Histogram[] {acquire, handover};
                }));
            }
            ready.await();
            long started = System.nanoTime();
            deadline.set(started + runNanos);
            start.countDown();
            while (true) {
                long now = System.nanoTime();
                long done = Math.min(now - started, runNanos);
                bar.stepTo(TimeUnit.NANOSECONDS.toMillis(done));
                bar.setExtraMessage(String.format(Locale.ROOT, "%,d ops", operations.get()));
                if (futures.stream().allMatch(Future::isDone)) break;
                Thread.sleep(100);
            }
            result.elapsed = Duration.ofNanos(System.nanoTime() - started);
            for (Future<Histogram[]> f : futures) {
                try {
                    Histogram[] h = f.get();
                    result.acquire.add(h[0]);
                    result.handover.add(h[1]);
                } catch (ExecutionException e) {
                    if (result.failure == null)
                        result.failure = e.getCause() instanceof RuntimeException r
                                ? r
                                : new IllegalStateException(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        result.operations = operations.get();
        result.timeouts = timeouts.get();
        return result;
    }

    private void print(Result r, String address, String identifier) {
        double seconds = r.elapsed.toNanos() / 1e9;
        double throughput = seconds > 0 ? r.operations / seconds : 0;
        if (json()) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("provider", address);
            result.put("identifier", identifier);
            result.put("threads", threads);
            result.put("keys", keys);
            result.put("seconds", Format.secondsValue(r.elapsed));
            result.put("operations", r.operations);
            result.put("opsPerSecond", Math.round(throughput * 10) / 10.0);
            result.put("timeouts", r.timeouts);
            result.put("acquireMicros", latencies(r.acquire));
            result.put("handoverMicros", latencies(r.handover));
            result.put("error", r.failure == null ? null : Failures.describe(r.failure));
            printJson(result);
            return;
        }
        PrintWriter out = out();
        out.println();
        out.println("Provider:   " + Terminal.text(address) + " (" + Terminal.text(identifier) + ")");
        out.println("Load:       " + threads + " threads on " + keys + (keys == 1 ? " key" : " keys") + " for "
                + Format.seconds(r.elapsed));
        out.println(String.format(
                Locale.ROOT,
                "Throughput: %.1f ops/s (%,d acquire + release, %,d timeouts)",
                throughput,
                r.operations,
                r.timeouts));
        out.println();
        Table table = new Table("LATENCY", "COUNT", "P50", "P99", "MAX");
        row(table, "acquire", r.acquire);
        row(table, "hand-over", r.handover);
        table.print(out);
        if (r.handover.getTotalCount() == 0)
            out.println("(no hand-overs: no caller waited for a key; use fewer --keys than --threads)");
    }

    private static void row(Table table, String name, Histogram h) {
        if (h.getTotalCount() == 0) {
            table.row(name, 0, "-", "-", "-");
            return;
        }
        table.row(
                name,
                h.getTotalCount(),
                Format.millis(h.getValueAtPercentile(50) * 1000),
                Format.millis(h.getValueAtPercentile(99) * 1000),
                Format.millis(h.getMaxValue() * 1000));
    }

    private static Map<String, Object> latencies(Histogram h) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", h.getTotalCount());
        boolean any = h.getTotalCount() > 0;
        m.put("p50", any ? h.getValueAtPercentile(50) : null);
        m.put("p99", any ? h.getValueAtPercentile(99) : null);
        m.put("max", any ? h.getMaxValue() : null);
        return m;
    }

    private static long micros(long nanos) {
        return Math.max(1, Math.min(HIGHEST_MICROS, TimeUnit.NANOSECONDS.toMicros(nanos)));
    }

    private static java.util.concurrent.ThreadFactory daemonThreads() {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, "bench-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
