package dev.locking.bench;

import dev.locking.testkit.servers.RedisServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import redis.clients.jedis.Jedis;

/**
 * The whole suite in one run: finds the servers, runs the JMH benchmarks (each target and its
 * baselines one after the other, on the same servers), then the hand-over and parked-waiter
 * measurements, and writes the report. {@code locking-bench/run.sh} is the command.
 *
 * <p>System properties: {@code bench.size} ({@code full}, the default; {@code quick}; or {@code
 * long}, three forks per target), {@code bench.out} (the report, default {@code docs/BENCHMARKS.md}), {@code bench.command} (the command
 * line to print in it), {@code bench.only} (comma-separated parts: pairs, execute, tenKeys,
 * cost, handover, waiters), {@code bench.targets} (comma-separated targets, to measure fewer), {@code
 * bench.prof} (a JMH profiler, e.g. {@code jfr}).
 */
public final class BenchSuite {
    private BenchSuite() {}

    /** Every target of the pairs benchmark: ours, then the physical limits, then the peers. */
    static final List<String> PAIR_TARGETS = List.of(
            "in-memory",
            "postgres",
            "postgres-sync",
            "postgres-async",
            "postgres-session",
            "pgbouncer",
            "redis",
            "raw-postgres",
            "raw-pgbouncer",
            "raw-redis",
            "redisson",
            "shedlock-jdbc",
            "shedlock-jdbc-pgbouncer",
            "shedlock-jedis");

    static final List<String> EXECUTE_TARGETS = List.of(
            "in-memory",
            "postgres",
            "postgres-session",
            "pgbouncer",
            "redis",
            "raw-postgres",
            "raw-pgbouncer",
            "raw-redis",
            "redisson",
            "shedlock-jdbc",
            "shedlock-jedis");

    static final List<String> TEN_KEY_TARGETS = List.of(
            "in-memory",
            "postgres",
            "postgres-session",
            "pgbouncer",
            "redis",
            "raw-postgres",
            "raw-pgbouncer",
            "raw-redis",
            "redisson");

    /** The PostgreSQL targets whose pairs are counted on the server (WAL, fsyncs, transactions). */
    static final List<String> COST_TARGETS = List.of(
            "postgres",
            "postgres-sync",
            "postgres-async",
            "postgres-session",
            "pgbouncer",
            "raw-postgres",
            "raw-pgbouncer",
            "shedlock-jdbc",
            "shedlock-jdbc-pgbouncer");

    static final List<String> HANDOVER_TARGETS = List.of(
            "in-memory",
            "postgres",
            "postgres-async",
            "postgres-session",
            "pgbouncer",
            "redis",
            "redisson",
            "shedlock-jdbc",
            "shedlock-jedis");

    static final List<String> WAITER_TARGETS =
            List.of("in-memory", "postgres", "postgres-session", "redis", "redisson");

    /** How long each figure is measured: JMH forks and iterations per target, seconds per hand-over row. */
    record Size(int forks, int warmups, int warmupSeconds, int iterations, int iterationSeconds, int handOverSeconds) {
        static Size named(String name) {
            return switch (name) {
                case "quick" -> new Size(1, 1, 1, 2, 1, 3);
                case "full" -> new Size(1, 1, 2, 4, 2, 8);
                    // Three forks of five longer iterations: narrower intervals, about an hour on 2 cores.
                case "long" -> new Size(3, 2, 3, 5, 3, 20);
                default -> throw new IllegalArgumentException(
                        "bench.size must be quick, full or long, not \"" + name + "\"");
            };
        }
    }

    public static void main(String[] args) throws Exception {
        String sizeName = System.getProperty("bench.size", "full");
        Size size = Size.named(sizeName);
        List<String> only = list(System.getProperty("bench.only", "pairs,execute,tenKeys,cost,handover,waiters"));
        List<String> targets = list(System.getProperty("bench.targets", ""));
        Path out = Paths.get(System.getProperty("bench.out", "docs/BENCHMARKS.md"));

        // PgBouncer is started only when a target goes through it (a subset may not need it).
        boolean pgBouncer = targets.isEmpty() || targets.stream().anyMatch(t -> t.contains("pgbouncer"));
        Servers servers = Servers.discover(pgBouncer);
        Targets.prepareSchema(servers);
        Report report = new Report(sizeName, size, servers);
        long started = System.nanoTime();
        String loadAtStart = Machine.load();

        if (only.contains("pairs"))
            for (int threads : new int[] {1, 8})
                report.pairs.put(threads, jmh("pair", filter(PAIR_TARGETS, targets), threads, size, servers));
        if (only.contains("execute"))
            report.execute = jmh("execute", filter(EXECUTE_TARGETS, targets), 1, size, servers);
        if (only.contains("tenKeys"))
            report.tenKeys = jmh("tenKeys", filter(TEN_KEY_TARGETS, targets), 1, size, servers);

        if (only.contains("cost"))
            for (String target : filter(COST_TARGETS, targets)) {
                System.out.printf(
                        "# server cost: %s, %d pairs, smallest of %d%n", target, ServerCost.PAIRS, ServerCost.REPEATS);
                ServerCost.Result r = ServerCost.run(
                        target, () -> Targets.open(target, servers), servers, ServerCost.PAIRS, ServerCost.REPEATS);
                System.out.println("  " + r);
                report.costs.put(target, r);
            }

        if (only.contains("handover"))
            for (String target : filter(HANDOVER_TARGETS, targets))
                for (int threads : new int[] {2, 16}) {
                    System.out.printf("# hand-over: %s, %d threads, %d s%n", target, threads, size.handOverSeconds());
                    try (Locker locker = Targets.open(target, servers)) {
                        HandOver.Result r =
                                HandOver.run(locker, target, threads, Duration.ofSeconds(size.handOverSeconds()));
                        System.out.println("  " + r);
                        report.handOvers.add(r);
                    } catch (Exception e) {
                        // One row's failure (a peer's client timing out on a loaded machine) leaves
                        // the others standing; the row is missing from the report.
                        System.out.println("  failed: " + e);
                    }
                }

        if (only.contains("waiters")) {
            long control = ParkedWaiters.controlHeapPerWaiter();
            report.controlHeapPerWaiter = control;
            for (String target : filter(WAITER_TARGETS, targets)) {
                System.out.printf("# %d parked waiters: %s%n", ParkedWaiters.WAITERS, target);
                try (Locker locker = Targets.open(target, servers)) {
                    ParkedWaiters.Result r = ParkedWaiters.run(
                            locker, target, connectionCounter(target, servers, locker), bound(target), control);
                    System.out.println("  " + r);
                    report.waiters.add(r);
                }
            }
        }
        report.elapsed = Duration.ofNanos(System.nanoTime() - started);
        report.generatedAt = java.time.ZonedDateTime.now();
        report.machine = Machine.describe(servers, loadAtStart);
        String markdown = report.markdown(System.getProperty("bench.command", "locking-bench/run.sh"));
        if (out.getParent() != null) Files.createDirectories(out.getParent());
        Files.writeString(out, markdown);
        System.out.println("Wrote " + out.toAbsolutePath());
        System.exit(0); // pools of the peers (Redisson's Netty threads) may linger
    }

    private static List<String> list(String csv) {
        List<String> values = new ArrayList<>();
        for (String s : csv.split(",")) if (!s.isBlank()) values.add(s.strip());
        return values;
    }

    private static List<String> filter(List<String> all, List<String> wanted) {
        if (wanted.isEmpty()) return all;
        return all.stream().filter(wanted::contains).toList();
    }

    /** One JMH run of {@code method} over {@code targets}: one fork per target, in this order. */
    static Map<String, Score> jmh(String method, List<String> targets, int threads, Size size, Servers servers)
            throws Exception {
        Map<String, Score> scores = new LinkedHashMap<>();
        if (targets.isEmpty()) return scores;
        List<String> jvmArgs = new ArrayList<>(servers.jvmArgs());
        jvmArgs.add("-Xmx1g");
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include(LockBenchmark.class.getName() + "\\." + method + "$")
                .param("target", targets.toArray(new String[0]))
                .threads(threads)
                .forks(size.forks())
                .warmupIterations(size.warmups())
                .warmupTime(TimeValue.seconds(size.warmupSeconds()))
                .measurementIterations(size.iterations())
                .measurementTime(TimeValue.seconds(size.iterationSeconds()))
                .jvmArgsAppend(jvmArgs.toArray(new String[0]))
                // A target that fails (a pool starved on a loaded machine) is missing from the report, not fatal.
                .shouldFailOnError(false);
        String prof = System.getProperty("bench.prof");
        if (prof != null && !prof.isBlank()) options.addProfiler(prof);
        Collection<RunResult> results = new Runner(options.build()).run();
        for (RunResult r : results) {
            var primary = r.getPrimaryResult();
            scores.put(
                    r.getParams().getParam("target"),
                    new Score(
                            primary.getScore(),
                            primary.getScoreError(),
                            r.getParams().getThreads()));
        }
        // In the order asked, not JMH's alphabetical one.
        Map<String, Score> ordered = new LinkedHashMap<>();
        for (String t : targets) if (scores.containsKey(t)) ordered.put(t, scores.get(t));
        return ordered;
    }

    record Score(double opsPerSecond, double error, int threads) {}

    private static IntSupplier connectionCounter(String target, Servers servers, Locker locker) {
        String address = locker instanceof Targets.ModuleLocker ours ? ours.address : "";
        return switch (target) {
            case "postgres", "postgres-session", "pgbouncer" -> () ->
                    postgresSessions(servers, "dev.locking%" + address);
            case "redis" -> () -> redisClients(" name=locking:" + address + " ");
            case "redisson" -> () -> redisClients(" name=bench-redisson ");
            default -> () -> 0;
        };
    }

    private static String bound(String target) {
        return switch (target) {
            case "postgres", "pgbouncer" -> Targets.PG_POOL + " + 1 listener";
            case "postgres-session" -> Targets.PG_POOL + " + " + Targets.PG_POOL + " sessions + 1 listener";
            case "redis" -> Targets.REDIS_POOL + " + 1 subscriber";
            case "redisson" -> "Redisson's pools (defaults)";
            default -> "none (in-process)";
        };
    }

    static int postgresSessions(Servers servers, String applicationNamePattern) {
        try (Connection c = DriverManager.getConnection(servers.pgUrl(), servers.jdbcProperties("dev-bench-count"));
                PreparedStatement ps =
                        c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE ?")) {
            ps.setString(1, applicationNamePattern);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    static int redisClients(String nameField) {
        try (Jedis jedis = RedisServer.shared().connect()) {
            return (int) jedis.clientList()
                    .lines()
                    .filter(l -> l.contains(nameField))
                    .count();
        }
    }

    static String readFile(Path path) {
        try {
            return Files.readString(path);
        } catch (IOException e) {
            return "";
        }
    }
}
