package dev.locking.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One torture run: worker JVMs against one provider registration, a timeline of faults, then the
 * merged history checked and a report printed.
 */
final class TortureRun {
    static final int WORKERS = 4, THREADS = 8, KEYS = 4;
    static final Duration LEASE = Duration.ofMillis(1500);

    /** Something the timeline does at a fraction of the run. */
    record Fault(double at, String name, FaultAction action) {}

    @FunctionalInterface
    interface FaultAction {
        void inject(TortureRun run) throws Exception;
    }

    final String name;
    final Path dir;
    final Config registration;
    final long seconds = Long.getLong("torture.seconds", 10);
    final List<Process> workers = Collections.synchronizedList(new ArrayList<>());
    final List<String> injected = new ArrayList<>();
    /** Windows [down, up] in which the store forgot its locks (Redis without persistence). */
    final List<long[]> amnesia = new ArrayList<>();

    private final List<Integer> killed = Collections.synchronizedList(new ArrayList<>());

    TortureRun(String name, Map<String, Object> providerRegistration) throws IOException {
        this.name = name;
        this.dir = Files.createTempDirectory("torture-" + name + "-");
        this.registration = ConfigFactory.empty()
                .withValue("locking.providers", ConfigValueFactory.fromIterable(List.of(providerRegistration)));
    }

    String prefix() {
        return "torture-" + name + "-" + ProcessHandle.current().pid() + ":";
    }

    HistoryChecker.Report run(List<Fault> timeline) throws Exception {
        Path config = dir.resolve("worker.conf");
        Files.writeString(config, registration.root().render(ConfigRenderOptions.concise()));
        Path guard = Files.createDirectories(dir.resolve("guard"));
        try (LockingModule module = LockingModule.create(registration)) {
            module.migrate();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        for (int w = 0; w < WORKERS; w++) {
            ProcessBuilder pb = new ProcessBuilder(
                    java,
                    "-Xmx256m",
                    "-cp",
                    System.getProperty("java.class.path"),
                    TortureWorker.class.getName(),
                    "--config",
                    config.toString(),
                    "--out",
                    dir.resolve("history-" + w + ".tsv").toString(),
                    "--guard",
                    guard.toString(),
                    "--go",
                    dir.resolve("go").toString(),
                    "--worker",
                    "w" + w,
                    "--threads",
                    Integer.toString(THREADS),
                    "--seconds",
                    Long.toString(seconds),
                    "--keys",
                    Integer.toString(KEYS),
                    "--prefix",
                    prefix(),
                    "--lease-ms",
                    Long.toString(LEASE.toMillis()));
            pb.redirectErrorStream(true)
                    .redirectOutput(dir.resolve("worker-" + w + ".log").toFile());
            workers.add(pb.start());
        }
        awaitReady();
        Files.writeString(dir.resolve("go"), "go");
        // Each fault fires at its own time, so a long one (a freeze, a restart) cannot push the
        // others past the end of the run, and faults may overlap as they would in production.
        ScheduledExecutorService faults = Executors.newScheduledThreadPool(Math.max(1, timeline.size()));
        List<ScheduledFuture<?>> fired = new ArrayList<>();
        try {
            for (Fault fault : timeline) {
                long due = (long) (fault.at() * Duration.ofSeconds(seconds).toMillis());
                fired.add(faults.schedule(
                        () -> {
                            fault.action().inject(this);
                            synchronized (injected) {
                                injected.add(fault.name());
                            }
                            return null;
                        },
                        due,
                        TimeUnit.MILLISECONDS));
            }
            for (ScheduledFuture<?> f : fired) f.get(seconds + 120, TimeUnit.SECONDS);
        } finally {
            faults.shutdownNow();
        }
        for (int w = 0; w < WORKERS; w++) {
            Process p = workers.get(w);
            assertTrue(p.waitFor(seconds + 120, TimeUnit.SECONDS), "worker " + w + " did not finish; see " + dir);
            if (!killed.contains(w)) assertEquals(0, p.exitValue(), "worker " + w + " failed; see " + log(w));
        }
        List<Path> histories = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) histories.add(dir.resolve("history-" + w + ".tsv"));
        List<Hold> holds = forgetAcrossAmnesia(HistoryChecker.read(histories));
        HistoryChecker.Report report = HistoryChecker.check(holds);
        printReport(report);
        assertNoStuckKeys();
        // A clean run leaves nothing behind; a broken one keeps its histories and logs to read.
        if (report.clean() && report.holds() > 0) deleteDir();
        else System.out.println("histories and worker logs kept in " + dir);
        return report;
    }

    private void deleteDir() {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.out.println("could not delete " + dir + ": " + e);
        }
    }

    private void awaitReady() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        for (int w = 0; w < WORKERS; w++)
            while (!Files.readString(dir.resolve("worker-" + w + ".log")).contains("READY")) {
                assertTrue(workers.get(w).isAlive(), "worker " + w + " died starting: " + log(w));
                assertTrue(System.nanoTime() < deadline, "worker " + w + " did not start: " + log(w));
                Thread.sleep(50);
            }
    }

    /** A store that lost its data cannot vouch for leases granted before: they end at the outage. */
    private List<Hold> forgetAcrossAmnesia(List<Hold> holds) {
        if (amnesia.isEmpty()) return holds;
        List<Hold> out = new ArrayList<>();
        for (Hold h : holds) {
            long validUntil = h.validUntil();
            for (long[] window : amnesia) if (h.start() < window[0]) validUntil = Math.min(validUntil, window[0]);
            out.add(new Hold(
                    h.key(), h.token(), h.start(), h.end(), validUntil, h.mode(), h.worker(), h.guardAccepted()));
        }
        return out;
    }

    /** After every fault, each key frees within a lease: nothing is stuck. */
    private void assertNoStuckKeys() {
        try (LockingModule module = LockingModule.create(registration)) {
            for (int k = 0; k < KEYS; k++) {
                LockOptions me = LockOptions.defaults().owner("checker").timeout(LEASE.plusSeconds(15));
                module.acquire(prefix() + "key-" + k, me);
                assertTrue(module.release(prefix() + "key-" + k, me));
            }
        }
    }

    String log(int worker) {
        try {
            return Files.readString(dir.resolve("worker-" + worker + ".log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private void printReport(HistoryChecker.Report r) {
        StringBuilder sb = new StringBuilder();
        sb.append("\n=== torture report: ").append(name).append(" ===\n");
        sb.append("workers ")
                .append(WORKERS)
                .append(" x ")
                .append(THREADS)
                .append(" threads, ")
                .append(seconds)
                .append(" s, ")
                .append(KEYS)
                .append(" keys, lease ")
                .append(LEASE.toMillis())
                .append(" ms\n");
        for (int w = 0; w < WORKERS; w++) {
            String done = log(w).lines()
                    .filter(l -> l.startsWith("DONE"))
                    .findFirst()
                    .orElse(killed.contains(w) ? "killed with SIGKILL" : "no summary");
            sb.append("  w").append(w).append(": ").append(done).append('\n');
        }
        sb.append("faults injected: ")
                .append(injected.isEmpty() ? "none" : String.join(", ", injected))
                .append('\n');
        sb.append("holds checked: ")
                .append(r.holds())
                .append(" on ")
                .append(r.keys())
                .append(" keys\n");
        sb.append("overlaps of valid leases: ").append(r.overlaps().size()).append('\n');
        sb.append("fencing token inversions: ")
                .append(r.tokenInversions().size())
                .append('\n');
        sb.append("valid writes rejected by the guard: ")
                .append(r.validWritesRejected().size())
                .append('\n');
        sb.append("stale writes rejected by the guard: ")
                .append(r.staleWritesRejected())
                .append('\n');
        r.overlaps().stream()
                .limit(10)
                .forEach(o -> sb.append("  OVERLAP ").append(o).append('\n'));
        r.tokenInversions().stream()
                .limit(10)
                .forEach(o -> sb.append("  INVERSION ").append(o).append('\n'));
        r.validWritesRejected().stream()
                .limit(10)
                .forEach(o -> sb.append("  REJECTED ").append(o).append('\n'));
        System.out.println(sb);
        System.out.flush();
    }

    // ---- faults

    static Fault freeze(double at, int worker) {
        return new Fault(
                at, "SIGSTOP w" + worker + " for " + LEASE.multipliedBy(2).toMillis() + " ms", run -> {
                    long pid = run.workers.get(worker).pid();
                    signal("STOP", pid);
                    Thread.sleep(LEASE.multipliedBy(2).toMillis());
                    signal("CONT", pid);
                });
    }

    static Fault kill9(double at, int worker) {
        return new Fault(at, "SIGKILL w" + worker, run -> {
            Process p = run.workers.get(worker);
            assertTrue(p.isAlive(), "w" + worker + " ended before it could be killed; lengthen the run");
            run.killed.add(worker);
            signal("KILL", p.pid());
        });
    }

    private static void signal(String signal, long pid) throws Exception {
        Process p = new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
                .inheritIO()
                .start();
        assertEquals(0, p.waitFor(), "kill -" + signal + " " + pid);
    }
}
