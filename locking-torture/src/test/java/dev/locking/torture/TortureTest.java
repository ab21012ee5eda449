package dev.locking.torture;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.testkit.servers.PgBouncerServer;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisClusterServer;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Mutual exclusion across real processes, under load and faults, on each provider. CI size by
 * default ({@code torture.seconds=10}); {@code mvn -pl locking-torture verify -Dtorture.seconds=600}
 * is the soak.
 */
@TestMethodOrder(org.junit.jupiter.api.MethodOrderer.MethodName.class)
class TortureTest {

    private static Map<String, Object> postgres(String url, String schema, String notifications) {
        PostgresServer pg = PostgresServer.shared();
        Map<String, Object> options = new HashMap<>();
        options.put("url", url);
        options.put("user", pg.user());
        options.put("password", pg.password());
        options.put("schema", schema);
        options.put("notifications", notifications);
        return Map.of("resolve", "locking-postgres", "id", "torture", "options", options);
    }

    private static void assertClean(HistoryChecker.Report report) {
        assertTrue(report.holds() > 0, "no hold was recorded");
        assertTrue(report.clean(), "mutual exclusion broken: " + report);
    }

    @Test
    void postgresDirect() throws Exception {
        PostgresServer pg = PostgresServer.shared();
        TortureRun run = new TortureRun("postgres", postgres(pg.jdbcUrl(), pg.newSchema("torture"), "listen"));
        List<TortureRun.Fault> faults = new java.util.ArrayList<>(List.of(
                new TortureRun.Fault(
                        0.15,
                        "pg_terminate_backend of provider connections",
                        r -> pg.terminateSessions("dev.locking lp_torture")),
                TortureRun.freeze(0.25, 1),
                new TortureRun.Fault(
                        0.5,
                        "pg_terminate_backend of provider and listener connections",
                        r -> pg.terminateSessions("dev.locking"))));
        if (pg.canRestart())
            faults.add(new TortureRun.Fault(
                    0.6, "PostgreSQL restart (1 s down)", r -> pg.restart(Duration.ofSeconds(1), null)));
        faults.add(TortureRun.kill9(0.8, 3));
        assertClean(run.run(faults));
    }

    @Test
    void postgresThroughPgBouncer() throws Exception {
        PgBouncerServer bouncer = PgBouncerServer.shared();
        PostgresServer pg = bouncer.postgres();
        TortureRun run =
                new TortureRun("pgbouncer", postgres(bouncer.jdbcUrl(), pg.newSchema("torture_bouncer"), "poll"));
        assertClean(run.run(List.of(
                new TortureRun.Fault(0.25, "pg_terminate_backend of server connections", r -> pg.terminateSessions("")),
                TortureRun.freeze(0.4, 2),
                TortureRun.kill9(0.75, 0))));
    }

    @Test
    void redisStandalone() throws Exception {
        RedisServer server = RedisServer.shared();
        Map<String, Object> options = Map.of(
                "url",
                server.url(),
                "namespace",
                "torture-" + ProcessHandle.current().pid() + ":");
        TortureRun run =
                new TortureRun("redis", Map.of("resolve", "locking-redis", "id", "torture", "options", options));
        assertClean(run.run(List.of(
                new TortureRun.Fault(0.15, "CLIENT KILL of every client", r -> {
                    try (var jedis = server.connect()) {
                        jedis.sendCommand(
                                redis.clients.jedis.Protocol.Command.CLIENT, "KILL", "TYPE", "normal", "SKIPME", "yes");
                        jedis.sendCommand(redis.clients.jedis.Protocol.Command.CLIENT, "KILL", "TYPE", "pubsub");
                    }
                }),
                TortureRun.freeze(0.25, 1),
                new TortureRun.Fault(0.55, "Redis restart (no persistence: locks forgotten)", r -> {
                    long down = System.nanoTime();
                    server.restart();
                    r.amnesia.add(new long[] {down, System.nanoTime()});
                }),
                TortureRun.kill9(0.8, 2))));
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
