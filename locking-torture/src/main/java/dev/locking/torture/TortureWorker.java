package dev.locking.torture;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.Lease;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One application instance of the torture test, run as its own JVM. Its threads take short
 * critical sections on a few keys, through {@code execute} and through {@code acquire}/{@code
 * release} with owners and short leases, and append every hold to a history file, flushed per
 * line so a {@code kill -9} loses nothing already done. Store faults are expected: a failed call is
 * counted and retried.
 *
 * <p>Arguments: {@code --config F --out F --guard DIR --go F --worker ID [--threads 8] [--seconds 10]
 * [--keys 4] [--prefix P] [--lease-ms 2000]}. The worker prints {@code READY}, then starts when
 * the file {@code --go} exists.
 */
public final class TortureWorker {
    private final LockingModule locking;
    private final BufferedWriter out;
    private final FileGuard guard;
    private final String worker;
    private final List<String> keys = new ArrayList<>();
    private final Duration lease;
    private final AtomicLong ops = new AtomicLong(),
            failures = new AtomicLong(),
            lost = new AtomicLong(),
            timeouts = new AtomicLong(),
            rejected = new AtomicLong();

    private TortureWorker(
            LockingModule locking,
            BufferedWriter out,
            FileGuard guard,
            String worker,
            String prefix,
            int keyCount,
            Duration lease) {
        this.locking = locking;
        this.out = out;
        this.guard = guard;
        this.worker = worker;
        this.lease = lease;
        for (int i = 0; i < keyCount; i++) keys.add(prefix + "key-" + i);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        Config config =
                ConfigFactory.parseFile(Path.of(a.get("config")).toFile()).resolve();
        int threads = Integer.parseInt(a.getOrDefault("threads", "8"));
        long seconds = Long.parseLong(a.getOrDefault("seconds", "10"));
        try (LockingModule locking = LockingModule.create(config);
                BufferedWriter out = Files.newBufferedWriter(Path.of(a.get("out")))) {
            TortureWorker w = new TortureWorker(
                    locking,
                    out,
                    new FileGuard(Path.of(a.get("guard"))),
                    a.get("worker"),
                    a.getOrDefault("prefix", "torture:"),
                    Integer.parseInt(a.getOrDefault("keys", "4")),
                    Duration.ofMillis(Long.parseLong(a.getOrDefault("lease-ms", "2000"))));
            System.out.println("READY " + a.get("worker") + " pid "
                    + ProcessHandle.current().pid());
            System.out.flush();
            // Every worker starts its clock on the same signal, so the run's fault timeline (timed
            // from that signal) falls inside every worker's run, however slowly each JVM started.
            awaitGo(Path.of(a.get("go")));
            long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
            List<Thread> running = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String name = a.get("worker") + "-t" + t;
                Thread thread = new Thread(() -> w.loop(name, deadline), name);
                thread.start();
                running.add(thread);
            }
            for (Thread t : running) t.join();
            System.out.println("DONE " + a.get("worker") + " ops " + w.ops + " failures " + w.failures + " lost "
                    + w.lost + " timeouts " + w.timeouts + " rejected " + w.rejected);
        }
    }

    private static void awaitGo(Path go) throws InterruptedException {
        long giveUp = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!Files.exists(go)) {
            if (System.nanoTime() > giveUp) throw new IllegalStateException("no go signal at " + go);
            Thread.sleep(5);
        }
    }

    private void loop(String name, long deadline) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        LockOptions mine = LockOptions.defaults().owner(name).expire(lease).timeout(Duration.ofSeconds(10));
        while (System.nanoTime() < deadline) {
            String key = keys.get(random.nextInt(keys.size()));
            try {
                if (random.nextBoolean()) viaExecute(name, key);
                else viaAcquire(name, key, mine);
                ops.incrementAndGet();
            } catch (LockLostException e) {
                lost.incrementAndGet();
            } catch (LockAcquisitionException e) {
                timeouts.incrementAndGet();
            } catch (LockingException e) {
                // A store fault: expected while the test injects them. The first few are printed
                // for the report, so a run that only fails shows why.
                if (failures.incrementAndGet() <= 3) {
                    System.out.println("FAILURE " + java.time.LocalTime.now() + " " + name + " " + e);
                    System.out.flush();
                }
                pause(50);
            }
        }
    }

    private void viaExecute(String name, String key) {
        long before = System.nanoTime();
        locking.execute(
                key,
                lock -> {
                    long start = System.nanoTime();
                    work();
                    long token = lock.fencingToken(key);
                    boolean accepted = guard.write(key, token);
                    long end = System.nanoTime();
                    boolean isLost = lock.isLost();
                    // A lease that held to the end covers the whole hold; a lost one only what is certain.
                    long validUntil = isLost ? before + lease.toNanos() : end;
                    record(new Hold(key, token, start, end, validUntil, "execute", name, accepted));
                    return null;
                },
                LockOptions.defaults().expire(lease).timeout(Duration.ofSeconds(10)));
    }

    private void viaAcquire(String name, String key, LockOptions mine) {
        Lease held = locking.acquire(key, mine);
        long start = System.nanoTime();
        Instant wallStart = Instant.now();
        // The store's expiry, moved onto the monotonic clock (one machine, one wall clock).
        long validUntil = start
                + Duration.between(wallStart, held.expiresAt().orElseThrow()).toNanos();
        work();
        long token = held.fencingToken(key);
        boolean accepted = guard.write(key, token);
        long end = System.nanoTime();
        record(new Hold(key, token, start, end, validUntil, "acquire", name, accepted));
        if (!locking.release(key, mine)) lost.incrementAndGet();
    }

    private void record(Hold hold) {
        if (!hold.guardAccepted()) rejected.incrementAndGet();
        synchronized (out) {
            try {
                out.write(hold.toLine());
                out.newLine();
                out.flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    private static void work() {
        pause(ThreadLocalRandom.current().nextInt(0, 3));
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
