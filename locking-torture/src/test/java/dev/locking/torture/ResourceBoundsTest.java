package dev.locking.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;

/**
 * Resources are bounded and returned: 1,000 callers parked on one key use no more store
 * connections than the pool plus one listener and no threads of the library's own beyond a
 * handful; 10,000 operations leave no thread and no connection behind once the module closes.
 * Everything is counted: threads in this JVM, connections on the server.
 */
class ResourceBoundsTest {
    private static final int WAITERS = 1000, OPERATIONS = 10_000;

    record Store(String name, Config config, IntSupplier serverConnections, int maxConnections) {}

    private static Store postgres() {
        PostgresServer pg = PostgresServer.shared();
        String id = "bounds" + ProcessHandle.current().pid();
        Map<String, Object> options = new java.util.HashMap<>(Map.of(
                "url",
                pg.jdbcUrl(),
                "user",
                pg.user(),
                "schema",
                pg.newSchema("bounds"),
                "pool",
                Map.of("maximumPoolSize", 4)));
        if (pg.password() != null) options.put("password", pg.password());
        Config config = registration("locking-postgres", id, options);
        IntSupplier count = () -> {
            try (Connection c = pg.dataSource().getConnection();
                    PreparedStatement ps =
                            c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE ?")) {
                ps.setString(1, "dev.locking%lp_" + id);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getInt(1);
                }
            } catch (java.sql.SQLException e) {
                throw new IllegalStateException(e);
            }
        };
        return new Store("postgres", config, count, 4 + 1);
    }

    private static Store redis() {
        RedisServer redis = RedisServer.shared();
        String id = "bounds" + ProcessHandle.current().pid();
        Map<String, Object> options =
                Map.of("url", redis.url(), "namespace", id + ":", "pool", Map.of("max-total", 8, "max-idle", 8));
        Config config = registration("locking-redis", id, options);
        IntSupplier count = () -> {
            try (var jedis = redis.connect()) {
                String list = jedis.clientList();
                return (int) list.lines()
                        .filter(l -> l.contains(" name=locking:lp_" + id + " "))
                        .count();
            }
        };
        return new Store("redis", config, count, 8 + 1);
    }

    private static Config registration(String resolve, String id, Map<String, Object> options) {
        return ConfigFactory.empty()
                .withValue(
                        "locking.providers",
                        ConfigValueFactory.fromIterable(
                                List.of(Map.of("resolve", resolve, "id", id, "options", options))))
                .withValue("locking.migrate-on-start", ConfigValueFactory.fromAnyRef(true));
    }

    @Test
    void aThousandParkedWaitersOnPostgres() throws Exception {
        thousandWaiters(postgres());
    }

    @Test
    void aThousandParkedWaitersOnRedis() throws Exception {
        thousandWaiters(redis());
    }

    @Test
    void tenThousandOperationsLeaveNothingBehindOnPostgres() throws Exception {
        noLeaks(postgres());
    }

    @Test
    void tenThousandOperationsLeaveNothingBehindOnRedis() throws Exception {
        noLeaks(redis());
    }

    private static void thousandWaiters(Store store) throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(WAITERS);
        try (LockingModule locking = LockingModule.create(store.config())) {
            String key = "hot-" + System.nanoTime();
            LockOptions holder = LockOptions.defaults().owner("holder");
            locking.acquire(key, holder);
            Set<Thread> before = Thread.getAllStackTraces().keySet();
            CountDownLatch started = new CountDownLatch(WAITERS);
            AtomicInteger inside = new AtomicInteger(), overlaps = new AtomicInteger();
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < WAITERS; i++)
                futures.add(callers.submit(() -> {
                    started.countDown();
                    locking.execute(
                            key,
                            lock -> {
                                if (inside.incrementAndGet() != 1) overlaps.incrementAndGet();
                                inside.decrementAndGet();
                                return null;
                            },
                            LockOptions.defaults().timeout(Duration.ofMinutes(5)));
                    return null;
                }));
            assertTrue(started.await(60, TimeUnit.SECONDS));
            Thread.sleep(2000); // all parked: every one has tried at least once and queued
            int connections = store.serverConnections().getAsInt();
            Set<Thread> now = Thread.getAllStackTraces().keySet();
            long libraryThreads = now.stream()
                    .filter(t -> !before.contains(t))
                    .filter(t -> !t.getName().startsWith("pool-")) // the test's own 1,000 callers
                    .count();
            long heapUsed =
                    Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
            System.out.printf(
                    "%s: %d waiters parked on one key: %d server connections (bound %d), %d new library threads,"
                            + " heap in use %d MB%n",
                    store.name(), WAITERS, connections, store.maxConnections(), libraryThreads, heapUsed >> 20);
            assertTrue(
                    connections <= store.maxConnections(),
                    connections + " connections for " + WAITERS + " waiters; the pool plus one listener is "
                            + store.maxConnections());
            assertTrue(libraryThreads <= 4, libraryThreads + " threads started by the library while waiting");
            assertTrue(locking.release(key, holder));
            for (Future<?> f : futures) f.get(5, TimeUnit.MINUTES);
            assertEquals(0, overlaps.get());
        } finally {
            callers.shutdownNow();
            assertTrue(callers.awaitTermination(30, TimeUnit.SECONDS));
        }
    }

    private static void noLeaks(Store store) throws Exception {
        Set<Thread> threadsBefore = Set.copyOf(Thread.getAllStackTraces().keySet());
        ExecutorService callers = Executors.newFixedThreadPool(8);
        try (LockingModule locking = LockingModule.create(store.config())) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                futures.add(callers.submit(() -> {
                    LockOptions me =
                            LockOptions.defaults().owner("leak-" + thread).expire(Duration.ofSeconds(30));
                    for (int i = 0; i < OPERATIONS / 8 / 2; i++) {
                        String key = "leak-" + thread + "-" + (i % 16);
                        locking.acquire(key, me);
                        locking.release(key, me);
                        locking.execute(
                                key, lock -> null, LockOptions.defaults().timeout(Duration.ofSeconds(30)));
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) f.get(5, TimeUnit.MINUTES);
            assertTrue(store.serverConnections().getAsInt() <= store.maxConnections());
        } finally {
            callers.shutdownNow();
            assertTrue(callers.awaitTermination(10, TimeUnit.SECONDS));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((store.serverConnections().getAsInt() > 0
                        || !newThreads(threadsBefore).isEmpty())
                && System.nanoTime() < deadline) Thread.sleep(100);
        int connections = store.serverConnections().getAsInt();
        List<String> leftover = newThreads(threadsBefore);
        System.out.printf(
                "%s: after %d operations and close: %d server connections, threads still running of those"
                        + " started meanwhile: %s%n",
                store.name(), OPERATIONS, connections, leftover);
        assertEquals(0, connections, "server connections left open after close");
        assertEquals(List.of(), leftover, "threads started during the operations and still running after close");
    }

    /** Threads alive now that were not before, but for the JVM's own lazily started ones. */
    private static List<String> newThreads(Set<Thread> before) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && !before.contains(t))
                .map(Thread::getName)
                .filter(n -> !n.equals("process reaper") && !n.equals("Attach Listener"))
                .sorted()
                .toList();
    }
}
