package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PrivatePostgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A thousand waiters parked on one key in session mode hold no server session while they wait: the
 * registration's connections stay within its sessions, its pool and its listener. On a private
 * server, whose connections are all this test's.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PostgresSessionWaitersTest {
    private static final int WAITERS = 1000;

    @Test
    void aThousandParkedWaitersNeedNoMoreConnectionsThanSessionsPoolAndListener() throws Exception {
        try (PrivatePostgres pg = PrivatePostgres.start()) {
            Map<String, Object> options = new HashMap<>();
            options.put("url", pg.jdbcUrl());
            options.put("user", pg.user());
            options.put("mode", "session");
            try (LockingModule module = TestModules.module(options)) {
                module.migrate();
                String key = "crowded";
                LockOptions holder = LockOptions.defaults().owner("holder");
                module.acquire(key, holder);
                AtomicInteger served = new AtomicInteger();
                ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < WAITERS; i++) {
                    LockOptions me = LockOptions.defaults().owner("w" + i).timeout(Duration.ofSeconds(120));
                    Thread t = new Thread(
                            null,
                            () -> {
                                try {
                                    module.acquire(key, me);
                                    if (module.release(key, me)) served.incrementAndGet();
                                    else errors.add("release answered false");
                                } catch (RuntimeException e) {
                                    errors.add(e.toString());
                                }
                            },
                            "waiter-" + i,
                            256 * 1024);
                    threads.add(t);
                    t.start();
                }
                // Every waiter parked: each has its place in the queue.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (queued(pg) < WAITERS && System.nanoTime() < deadline) Thread.sleep(100);
                assertEquals(WAITERS, queued(pg), "waiters in the queue");
                int connections = Integer.parseInt(
                        pg.query("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%lp_pg'"));
                // sessions (4) + pool (maximumPoolSize 4) + listener (1)
                assertTrue(connections <= 9, connections + " server connections for " + WAITERS + " parked waiters");
                assertTrue(module.release(key, holder));
                for (Thread t : threads) t.join(TimeUnit.SECONDS.toMillis(120));
                assertEquals(List.of(), List.copyOf(errors).subList(0, Math.min(3, errors.size())));
                assertEquals(WAITERS, served.get(), "every waiter got the key in turn");
            }
        }
    }

    private static int queued(PrivatePostgres pg) {
        return Integer.parseInt(pg.query("SELECT count(*) FROM locking.locking_waiter"));
    }
}
