package dev.locking.torture;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.PgBouncerServer;
import dev.locking.testkit.servers.PostgresReplicaPair;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.PrivatePostgres;
import dev.locking.testkit.servers.PrivateRedis;
import dev.locking.testkit.servers.RedisClusterServer;
import dev.locking.testkit.servers.RedisReplicaPair;
import dev.locking.testkit.servers.ReplicatedStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Mutual exclusion across real processes, under load and faults, on each provider. CI size by
 * default ({@code torture.seconds=10}); {@code mvn -pl locking-torture verify -Dtorture.seconds=600}
 * is the soak. Faults that change a server (kills, restarts, failovers) run on private servers of
 * the test's own; the shared servers only see this run's own sessions killed.
 */
@TestMethodOrder(org.junit.jupiter.api.MethodOrderer.MethodName.class)
class TortureTest {

    private static Map<String, Object> postgres(
            String url, String user, String password, String schema, String notifications) {
        Map<String, Object> options = new HashMap<>();
        options.put("url", url);
        options.put("user", user);
        if (password != null) options.put("password", password);
        options.put("schema", schema);
        options.put("notifications", notifications);
        return Map.of("resolve", "locking-postgres", "id", "torture", "options", options);
    }

    private static Map<String, Object> redis(String url) {
        Map<String, Object> options = Map.of(
                "url", url, "namespace", "torture-" + ProcessHandle.current().pid() + ":", "socket-timeout", "1s");
        return Map.of("resolve", "locking-redis", "id", "torture", "options", options);
    }

    private static void assertClean(HistoryChecker.Report report) {
        assertTrue(report.holds() > 0, "no hold was recorded");
        assertTrue(report.clean(), "mutual exclusion broken: " + report);
    }

    /** Connections through the proxy reset, as by a firewall or a crashed pooler. */
    static TortureRun.Fault proxyReset(double at, FaultyProxy proxy) {
        return new TortureRun.Fault(
                at, "every connection reset (RST) by the network", r -> proxy.cutAll(FaultyProxy.Cut.RESET));
    }

    /** A partition of a second: connections half-open, then healed, and what they held goes through. */
    static TortureRun.Fault proxyBlackHole(double at, FaultyProxy proxy) {
        return new TortureRun.Fault(at, "network partition for 1 s (half-open connections), then healed", r -> {
            proxy.blackHole();
            Thread.sleep(1_000);
            proxy.heal();
        });
    }

    /**
     * A failover that may lose the latest writes: the replica stops receiving, the primary dies a
     * moment later and the replica is promoted. Leases granted before the primary died are only
     * vouched for until then (the store forgot them), as for a restart without persistence.
     */
    static TortureRun.Fault failover(double at, ReplicatedStore store) {
        return new TortureRun.Fault(at, "failover to an asynchronous replica that missed the last 300 ms", r -> {
            store.lagReplica();
            Thread.sleep(300);
            long down = System.nanoTime();
            try {
                store.failover();
            } finally {
                r.amnesia.add(new long[] {down, System.nanoTime()});
            }
        });
    }

    @Test
    void postgresDirect() throws Exception {
        // Straight to a private server: its kills and restarts disturb nobody. The network faults
        // (lost replies, resets, partitions) are PostgresFaultContractTest's, through a FaultyProxy.
        try (PrivatePostgres pg = PrivatePostgres.start()) {
            TortureRun run = new TortureRun("postgres", postgres(pg.jdbcUrl(), pg.user(), null, "torture", "listen"));
            assertClean(run.run(List.of(
                    new TortureRun.Fault(
                            0.15,
                            "pg_terminate_backend of provider connections",
                            r -> terminate(pg, "dev.locking lp_torture")),
                    TortureRun.freeze(0.25, 1),
                    new TortureRun.Fault(
                            0.5,
                            "pg_terminate_backend of provider and listener connections",
                            r -> terminate(pg, "dev.locking")),
                    new TortureRun.Fault(
                            0.6,
                            "PostgreSQL killed (SIGKILL) and restarted, 1 s down",
                            r -> pg.restart(Duration.ofSeconds(1), null)),
                    TortureRun.kill9(0.8, 3))));
        }
    }

    @Test
    void postgresSession() throws Exception {
        // Session mode (locks are advisory locks of the provider's own server sessions) on a private
        // server. A session that ends takes its locks with it at once, and its holders learn it at
        // their next renewal or release: a killed session or a restart is, for the holds on it, what
        // a restart without persistence is for Redis (the store forgot them).
        try (PrivatePostgres pg = PrivatePostgres.start()) {
            Map<String, Object> registration = postgres(pg.jdbcUrl(), pg.user(), null, "torture", "listen");
            @SuppressWarnings("unchecked")
            Map<String, Object> options = new HashMap<>((Map<String, Object>) registration.get("options"));
            options.put("mode", "session");
            TortureRun run = new TortureRun(
                    "postgres-session", Map.of("resolve", "locking-postgres", "id", "torture", "options", options));
            assertClean(run.run(List.of(
                    new TortureRun.Fault(
                            0.15,
                            "pg_terminate_backend of the provider's lock sessions (their locks go with them)",
                            r -> forgetting(r, () -> terminate(pg, "dev.locking session lp_torture"))),
                    TortureRun.freeze(0.25, 1),
                    new TortureRun.Fault(
                            0.5,
                            "pg_terminate_backend of every provider connection",
                            r -> forgetting(r, () -> terminate(pg, "dev.locking"))),
                    new TortureRun.Fault(
                            0.6,
                            "PostgreSQL killed (SIGKILL) and restarted, 1 s down (session locks gone)",
                            r -> forgetting(r, () -> pg.restart(Duration.ofSeconds(1), null))),
                    TortureRun.kill9(0.8, 3))));
        }
    }

    /** A fault after which the store no longer vouches for the holds taken before it. */
    private static void forgetting(TortureRun r, Runnable fault) {
        long down = System.nanoTime();
        try {
            fault.run();
        } finally {
            r.amnesia.add(new long[] {down, System.nanoTime()});
        }
    }

    private static void terminate(PrivatePostgres pg, String applicationNamePrefix) {
        pg.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE '"
                + applicationNamePrefix + "%' AND pid <> pg_backend_pid()");
    }

    @Test
    void postgresThroughPgBouncer() throws Exception {
        PgBouncerServer bouncer = PgBouncerServer.shared();
        PostgresServer pg = bouncer.postgres();
        TortureRun run = new TortureRun(
                "pgbouncer",
                postgres(bouncer.jdbcUrl(), pg.user(), pg.password(), pg.newSchema("torture_bouncer"), "poll"));
        // Only this run's own server sessions: the server is shared with other tests.
        assertClean(run.run(List.of(
                new TortureRun.Fault(
                        0.25,
                        "pg_terminate_backend of server connections",
                        r -> pg.terminateSessions("dev.locking lp_torture")),
                TortureRun.freeze(0.4, 2),
                TortureRun.kill9(0.75, 0))));
    }

    @Test
    void redisStandalone() throws Exception {
        try (PrivateRedis server = PrivateRedis.builder().start();
                FaultyProxy proxy = FaultyProxy.start("torture-redis", server.host(), server.port())) {
            TortureRun run = new TortureRun("redis", redis("redis://" + proxy.host() + ":" + proxy.port()));
            assertClean(run.run(List.of(
                    new TortureRun.Fault(0.1, "CLIENT KILL of every client", r -> {
                        try (var jedis = server.connect()) {
                            jedis.sendCommand(
                                    redis.clients.jedis.Protocol.Command.CLIENT,
                                    "KILL",
                                    "TYPE",
                                    "normal",
                                    "SKIPME",
                                    "yes");
                            jedis.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "KILL", "TYPE", "pubsub");
                        }
                    }),
                    proxyReset(0.2, proxy),
                    TortureRun.freeze(0.25, 1),
                    proxyBlackHole(0.35, proxy),
                    new TortureRun.Fault(0.55, "Redis killed and restarted (no persistence: locks forgotten)", r -> {
                        long down = System.nanoTime();
                        server.restart();
                        r.amnesia.add(new long[] {down, System.nanoTime()});
                    }),
                    TortureRun.kill9(0.8, 2))));
        }
    }

    @Test
    void redisFailover() throws Exception {
        try (RedisReplicaPair pair = RedisReplicaPair.start()) {
            TortureRun run = new TortureRun("redis-failover", redis(pair.url()));
            assertClean(run.run(List.of(
                    proxyReset(0.15, pair.clientProxy()),
                    TortureRun.freeze(0.3, 1),
                    failover(0.45, pair),
                    TortureRun.kill9(0.8, 2))));
        }
    }

    @Test
    void postgresFailover() throws Exception {
        // A private primary and its asynchronous replica behind a proxy: the replica misses the
        // last 300 ms of writes (grants and token values) and is promoted; tokens carry the WAL
        // timeline, so they keep growing across it.
        try (PostgresReplicaPair pair = PostgresReplicaPair.start()) {
            TortureRun run = new TortureRun(
                    "postgres-failover", postgres(pair.jdbcUrl(), pair.primary().user(), null, "torture", "listen"));
            assertClean(run.run(List.of(
                    proxyReset(0.15, pair.clientProxy()),
                    TortureRun.freeze(0.3, 1),
                    failover(0.45, pair),
                    TortureRun.kill9(0.8, 2))));
        }
    }

    @Test
    void redisCluster() throws Exception {
        RedisClusterServer cluster = RedisClusterServer.shared();
        Map<String, Object> options = Map.of(
                "cluster-nodes",
                cluster.seeds(),
                "namespace",
                "torture-" + ProcessHandle.current().pid() + ":");
        TortureRun run = new TortureRun(
                "redis-cluster", Map.of("resolve", "locking-redis", "id", "torture", "options", options));
        assertClean(run.run(List.of(
                new TortureRun.Fault(0.15, "CLIENT KILL on every master", r -> {
                    for (var master : cluster.masters())
                        try (var jedis = RedisClusterServer.connect(master)) {
                            jedis.sendCommand(
                                    redis.clients.jedis.Protocol.Command.CLIENT,
                                    "KILL",
                                    "TYPE",
                                    "normal",
                                    "SKIPME",
                                    "yes");
                        }
                }),
                TortureRun.freeze(0.3, 2),
                TortureRun.kill9(0.75, 1))));
    }
}
