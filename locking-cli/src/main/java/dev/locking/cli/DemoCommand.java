package dev.locking.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValueFactory;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.FoundProvider;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import dev.locking.spi.Secrets;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

@Command(
        name = "demo",
        header = "Oversell prod_123 without a lock, then sell exactly its stock under each provider.",
        description = "Several application instances sell the limited stock of prod_123 at the same time: first "
                + "without a lock (they oversell), then under execute(\"prod_123\", ...) on each provider "
                + "(they sell exactly the stock). Each instance is a LockingModule with its own pool. "
                + "Providers: every registration of the configuration; an embedded PostgreSQL "
                + "(lp_locking-postgres) when none is configured; in-memory (lp_in-memory); and "
                + "lp_locking-redis when a Redis is configured or answers on 127.0.0.1:6379. Exit code 1 when "
                + "a locked run did not sell exactly the stock.")
final class DemoCommand extends BaseCommand {
    static final String PRODUCT = "prod_123";
    private static final String POSTGRES = "locking-postgres";
    private static final String REDIS = "locking-redis";
    private static final String IN_MEMORY = "in-memory";

    @Option(
            names = "--stock",
            paramLabel = "N",
            defaultValue = "50",
            description = "Units of prod_123 in stock (default: ${DEFAULT-VALUE}).")
    int stock;

    @Option(
            names = "--instances",
            paramLabel = "N",
            defaultValue = "4",
            description = "Application instances, each a LockingModule of its own (default: ${DEFAULT-VALUE}).")
    int instances;

    @Option(
            names = "--threads",
            paramLabel = "N",
            defaultValue = "2",
            description = "Buyers (threads) per instance (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(
            names = "--pause",
            paramLabel = "DURATION",
            defaultValue = "25ms",
            converter = DurationConverter.class,
            description = "Time between reading the stock and writing it back, the window unlocked buyers"
                    + " race through (default: ${DEFAULT-VALUE}).")
    Duration pause;

    @Option(
            names = "--no-embedded-postgres",
            description = "Do not start an embedded PostgreSQL when none is configured.")
    boolean noEmbeddedPostgres;

    @Option(
            names = "--no-redis",
            description = "Do not add lp_locking-redis, even when a Redis answers at --redis-url.")
    boolean noRedis;

    @Option(
            names = "--redis-url",
            paramLabel = "URL",
            defaultValue = "redis://127.0.0.1:6379",
            description = "Where to look for a Redis when none is configured (default: ${DEFAULT-VALUE}).")
    String redisUrl;

    /** One provider the demo sells under. */
    private record Target(String address, String identifier, Config config, boolean shared, String origin) {}

    /** A provider the demo wanted but could not use, and why. */
    private record Skipped(String address, String reason) {}

    /** What one run did. */
    private record Run(
            String provider,
            boolean locked,
            int modules,
            int buyers,
            int stock,
            int sold,
            int left,
            Duration time,
            String origin,
            Throwable failure) {
        boolean oversold() {
            return sold > stock;
        }

        boolean exact() {
            return failure == null && sold == stock && left == 0;
        }
    }

    @Override
    int execute() throws Exception {
        validate();
        ConfigLookup.Loaded config = configuration();
        List<Target> targets = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        List<String> found;
        List<ProviderInfo> configured = List.of();
        try (LockingModule probe = openModule()) { // validates the configuration before anything starts
            found = probe.foundProviders().stream()
                    .map(FoundProvider::identifier)
                    .toList();
            if (config.providersConfigured()) configured = probe.providers();
        }
        for (ProviderInfo info : configured)
            targets.add(new Target(
                    info.address(),
                    info.identifier(),
                    single(config.config(), info.id()),
                    info.identifier().equals(IN_MEMORY),
                    "configured"));

        EmbeddedPostgres embedded = null;
        try {
            if (!has(configured, POSTGRES) && !noEmbeddedPostgres) {
                if (!found.contains(POSTGRES))
                    skipped.add(new Skipped("lp_" + POSTGRES, "the provider-postgres jar is not on the classpath"));
                else {
                    try {
                        embedded = startEmbeddedPostgres();
                        targets.add(embeddedTarget(embedded));
                    } catch (IOException | RuntimeException e) {
                        skipped.add(new Skipped(
                                "lp_" + POSTGRES,
                                "the embedded PostgreSQL did not start (" + Failures.oneLine(Failures.describe(e))
                                        + "); register a PostgreSQL with --config to include it"));
                    }
                }
            }
            if (!has(configured, IN_MEMORY))
                targets.add(
                        new Target("lp_" + IN_MEMORY, IN_MEMORY, registration(IN_MEMORY, Map.of()), true, "built in"));
            if (!has(configured, REDIS) && !noRedis) {
                if (!found.contains(REDIS))
                    skipped.add(new Skipped("lp_" + REDIS, "the provider-redis jar is not on the classpath"));
                else redisTarget(targets, skipped);
            }
            targets.sort(Comparator.comparingInt(t -> rank(t.identifier())));
            return sell(targets, skipped);
        } finally {
            if (embedded != null) {
                try {
                    embedded.close();
                } catch (IOException e) {
                    err().println("locking: note: stopping the embedded PostgreSQL failed: "
                            + Terminal.text(e.getMessage()));
                }
            }
        }
    }

    private void validate() {
        if (stock < 1 || stock > 1_000_000) throw usage("--stock must be 1 to 1000000, was " + stock);
        if (instances < 1 || instances > 64) throw usage("--instances must be 1 to 64, was " + instances);
        if (threads < 1 || threads > 64) throw usage("--threads must be 1 to 64, was " + threads);
        if (pause.compareTo(Duration.ofSeconds(10)) > 0) throw usage("--pause must be at most 10s, was " + pause);
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    private int sell(List<Target> targets, List<Skipped> skipped) throws InterruptedException {
        int buyers = instances * threads;
        info("Selling " + PRODUCT + ": " + stock + " in stock, " + instances + " application instances x " + threads
                + " buyers, " + Format.human(pause) + " between reading the stock and writing it back.");
        List<Run> runs = new ArrayList<>();
        runs.add(run("no lock", false, instances, null, null));
        for (Target target : targets) {
            int modules = target.shared() ? 1 : instances;
            LockOptions options =
                    LockOptions.defaults().provider(target.address()).timeout(Duration.ofSeconds(30));
            runs.add(run(target.address(), true, modules, target, options));
        }
        report(runs, skipped, buyers);
        int code = ExitCodes.OK;
        for (Run run : runs) {
            if (!run.locked() || run.exact()) continue;
            if (run.failure() != null && Failures.exitCode(run.failure()) == ExitCodes.STORE) code = ExitCodes.STORE;
            else if (code == ExitCodes.OK) code = ExitCodes.NOT_DONE;
        }
        return code;
    }

    /** Starts the buyers together and lets them sell until the stock reads zero. */
    private Run run(String label, boolean locked, int modules, Target target, LockOptions options)
            throws InterruptedException {
        int buyers = instances * threads;
        List<LockingModule> opened = new ArrayList<>();
        String origin = target == null ? "" : target.origin();
        try {
            if (locked) for (int i = 0; i < modules; i++) opened.add(LockingModule.create(target.config()));
        } catch (RuntimeException e) {
            opened.forEach(LockingModule::close);
            return new Run(label, locked, modules, buyers, stock, 0, stock, Duration.ZERO, origin, e);
        }
        ExecutorService pool = Executors.newFixedThreadPool(buyers, daemonThreads(label));
        try (ProgressBar bar = Progress.start(Terminal.text(label), stock, environment(), err())) {
            StockRoom room = new StockRoom(stock, pause, (sold, depleted) -> {
                bar.stepTo(Math.min(depleted, stock));
                bar.setExtraMessage("sold " + sold);
            });
            CountDownLatch ready = new CountDownLatch(buyers);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int b = 0; b < buyers; b++) {
                LockingModule module = locked ? opened.get(b * modules / buyers) : null;
                futures.add(pool.submit(() -> {
                    ready.countDown();
                    start.await();
                    if (module == null) {
                        while (room.sellOne()) {}
                    } else {
                        while (module.execute(PRODUCT, lock -> room.sellOne(), options)) {}
                    }
                    return null;
                }));
            }
            ready.await();
            long started = System.nanoTime();
            start.countDown();
            Throwable failure = null;
            for (Future<?> f : futures) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    if (failure == null) failure = e.getCause();
                }
            }
            Duration time = Duration.ofNanos(System.nanoTime() - started);
            if (failure == null && room.sold() > 0) bar.setExtraMessage("sold " + room.sold());
            return new Run(label, locked, modules, buyers, stock, room.sold(), room.left(), time, origin, failure);
        } finally {
            pool.shutdownNow();
            opened.forEach(LockingModule::close);
        }
    }

    private void report(List<Run> runs, List<Skipped> skipped, int buyers) {
        if (json()) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("product", PRODUCT);
            result.put("stock", stock);
            result.put("instances", instances);
            result.put("threadsPerInstance", threads);
            result.put("pauseMillis", pause.toMillis());
            List<Object> items = new ArrayList<>();
            for (Run run : runs) {
                Map<String, Object> item = new LinkedHashMap<>();
                item.put("provider", run.locked() ? run.provider() : null);
                item.put("locked", run.locked());
                item.put("modules", run.modules());
                item.put("buyers", run.buyers());
                item.put("stock", run.stock());
                item.put("sold", run.sold());
                item.put("left", run.left());
                item.put("oversold", run.oversold());
                item.put("exact", run.exact());
                item.put("seconds", Format.secondsValue(run.time()));
                item.put("error", run.failure() == null ? null : Failures.describe(run.failure()));
                items.add(item);
            }
            result.put("runs", items);
            List<Object> skips = new ArrayList<>();
            for (Skipped s : skipped) skips.add(Map.of("provider", s.address(), "reason", s.reason()));
            result.put("skipped", skips);
            printJson(result);
            return;
        }
        PrintWriter out = out();
        out.println();
        Table table = new Table("PROVIDER", "INSTANCES", "STOCK", "SOLD", "OVERSOLD", "TIME");
        for (Run run : runs)
            table.row(
                    run.locked() ? run.provider() : "none (no lock)",
                    run.modules() + " x " + (run.buyers() / run.modules()) + " buyers",
                    run.stock(),
                    run.sold(),
                    run.failure() != null ? "error" : run.oversold() ? "yes" : "no",
                    Format.seconds(run.time()));
        table.print(out);
        out.println();
        Run unlocked = runs.get(0);
        if (unlocked.oversold())
            out.println("Without a lock, " + buyers + " buyers sold " + unlocked.sold() + " units of a stock of "
                    + stock + ": " + (unlocked.sold() - stock) + " of them do not exist.");
        else
            out.println("Without a lock the buyers happened not to oversell this time (one buyer, or no --pause);"
                    + " run again with more --instances or --threads.");
        List<Run> locked = runs.stream().filter(Run::locked).toList();
        if (!locked.isEmpty() && locked.stream().allMatch(Run::exact))
            out.println("Under execute(\"" + PRODUCT + "\", ...) every provider sold exactly " + stock + ".");
        for (Run run : locked) {
            if (run.failure() != null)
                out.println(Terminal.text(run.provider()) + " failed: " + Failures.printable(run.failure()));
            else if (!run.exact())
                out.println(
                        Terminal.text(run.provider()) + " sold " + run.sold() + " of " + stock + " with " + run.left()
                                + " left: the lock did not hold. Please report this with the output of --verbose.");
        }
        for (Run run : locked)
            if (run.modules() == 1 && buyers > 1)
                out.println(Terminal.text(run.provider()) + ": in-memory locks do not cross processes, so its " + buyers
                        + " buyers share one LockingModule (one application instance).");
        for (Skipped s : skipped)
            out.println("Skipped " + Terminal.text(s.address()) + ": " + Terminal.text(s.reason()) + ".");
    }

    // ---- providers

    private EmbeddedPostgres startEmbeddedPostgres() throws IOException {
        info(
                "Starting an embedded PostgreSQL (io.zonky.test:embedded-postgres; the first run unpacks its binaries)...");
        long started = System.nanoTime();
        EmbeddedPostgres pg = EmbeddedPostgres.builder()
                .setPGStartupWait(Duration.ofSeconds(60))
                .start();
        info("Embedded PostgreSQL ready on port " + pg.getPort() + " in "
                + Format.seconds(Duration.ofNanos(System.nanoTime() - started)) + ".");
        return pg;
    }

    private Target embeddedTarget(EmbeddedPostgres pg) {
        Map<String, Object> options = new LinkedHashMap<>();
        options.put("url", "jdbc:postgresql://127.0.0.1:" + pg.getPort() + "/postgres");
        options.put("user", "postgres");
        options.put("pool", Map.of("maximumPoolSize", Math.max(2, threads + 1)));
        Config config = registration(POSTGRES, options);
        try (LockingModule module = LockingModule.create(config)) {
            List<String> applied = module.migrations().getOrDefault("lp_" + POSTGRES, List.of());
            info("Migrated lp_" + POSTGRES + ": applied " + applied.size()
                    + (applied.size() == 1 ? " migration" : " migrations") + ".");
        }
        return new Target("lp_" + POSTGRES, POSTGRES, config, false, "embedded");
    }

    private void redisTarget(List<Target> targets, List<Skipped> skipped) {
        URI uri;
        try {
            uri = URI.create(redisUrl);
        } catch (IllegalArgumentException e) {
            throw new UsageException(
                    "--redis-url " + Secrets.redactUrl(redisUrl) + " is not a URL such as redis://127.0.0.1:6379");
        }
        String host = uri.getHost() == null ? "127.0.0.1" : uri.getHost();
        int port = uri.getPort() < 0 ? 6379 : uri.getPort();
        if (!listening(host, port)) {
            skipped.add(new Skipped(
                    "lp_" + REDIS,
                    "no Redis configured, and none answers on " + host + ":" + port
                            + " (start one there, or register locking-redis with --config, to include it)"));
            return;
        }
        Map<String, Object> options = new LinkedHashMap<>();
        options.put("url", redisUrl);
        options.put("namespace", "locking-demo:");
        Config config = registration(REDIS, options);
        // Something answers there; make sure it is a Redis the provider can use before racing on it.
        try (LockingModule module = LockingModule.create(config)) {
            String owner = "locking-demo-probe-" + UUID.randomUUID();
            LockOptions probe = LockOptions.defaults().owner(owner).expire(Duration.ofSeconds(5));
            module.acquire(PRODUCT + "-probe", probe);
            module.release(PRODUCT + "-probe", probe);
        } catch (LockingException e) {
            skipped.add(new Skipped(
                    "lp_" + REDIS,
                    "something answers on " + host + ":" + port + " but " + Failures.oneLine(Failures.describe(e))));
            return;
        }
        targets.add(new Target("lp_" + REDIS, REDIS, config, false, "found on " + host + ":" + port));
    }

    /** A configuration with the one registration {@code id = identifier}. */
    private static Config registration(String identifier, Map<String, Object> options) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("resolve", identifier);
        entry.put("id", identifier);
        if (!options.isEmpty()) entry.put("options", options);
        return ConfigValueFactory.fromMap(Map.of("locking", Map.of("providers", List.of(entry))))
                .toConfig();
    }

    /** {@code full} with only the registration {@code id} left in {@code locking.providers}. */
    private static Config single(Config full, String id) {
        for (ConfigObject entry : full.getObjectList("locking.providers")) {
            Config c = entry.toConfig();
            String entryId = (c.hasPath("id") ? c.getString("id") : c.getString("resolve")).trim();
            if (entryId.equals(id))
                return full.withValue("locking.providers", ConfigValueFactory.fromIterable(List.of(entry.unwrapped())));
        }
        throw new IllegalStateException("registration " + id + " is not in locking.providers");
    }

    private static boolean has(List<ProviderInfo> infos, String identifier) {
        return infos.stream().anyMatch(i -> i.identifier().equals(identifier));
    }

    private static int rank(String identifier) {
        return switch (identifier) {
            case POSTGRES -> 0;
            case IN_MEMORY -> 1;
            case REDIS -> 2;
            default -> 3;
        };
    }

    private static boolean listening(String host, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 300);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Narration: stdout with tables, stderr with --json so stdout stays one JSON object. */
    private void info(String line) {
        PrintWriter w = json() ? err() : out();
        w.println(line);
        w.flush();
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String label) {
        AtomicInteger n = new AtomicInteger();
        return runnable -> {
            Thread t = new Thread(runnable, "demo-" + label + "-buyer-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
