package dev.locking.testkit.servers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.params.SetParams;

/** The private server fixtures do what fault tests rely on, and leave nothing behind. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PrivateServersTest {

    private static Jedis connect(String host, int port) {
        return RedisClusterServer.connect(new redis.clients.jedis.HostAndPort(host, port));
    }

    @Test
    @DisplayName("Redis failover: the promoted replica has what it received before the lag and nothing after")
    void redisFailoverLosesExactlyTheLaggedWrites() {
        Path masterDir, replicaDir;
        try (RedisReplicaPair pair = RedisReplicaPair.start()) {
            masterDir = pair.master().directory();
            replicaDir = pair.replica().directory();
            try (Jedis j = connect(pair.host(), pair.port())) {
                j.set("before", "1");
            }
            pair.awaitReplicaCaughtUp();
            pair.lagReplica();
            try (Jedis j = connect(pair.host(), pair.port())) {
                j.set("after", "1");
            }
            pair.failover();
            assertFalse(pair.master().isAlive(), "the master was killed");
            assertEquals("master", pair.replica().role());
            try (Jedis j = connect(pair.host(), pair.port())) {
                assertEquals("1", j.get("before"), "replicated before the lag");
                assertNull(j.get("after"), "written during the lag: lost with the master");
                j.set("writable", "1");
            }
        }
        assertFalse(Files.exists(masterDir), "master directory removed");
        assertFalse(Files.exists(replicaDir), "replica directory removed");
    }

    @Test
    @DisplayName("a private Redis takes its memory limit and eviction policy")
    void redisWithAnEvictingPolicy() {
        try (PrivateRedis redis =
                        PrivateRedis.builder().maxMemory("3mb", "allkeys-lru").start();
                Jedis j = redis.connect()) {
            assertEquals(
                    List.of("maxmemory-policy", "allkeys-lru"), List.copyOf(flatten(j.configGet("maxmemory-policy"))));
            j.set("first", "x", SetParams.setParams().px(600_000));
            String filler = "f".repeat(10_000);
            for (int i = 0; i < 1_000; i++) j.set("fill-" + i, filler);
            assertNull(j.get("first"), "an evicting policy dropped a key that had a long TTL");
        }
    }

    private static List<String> flatten(java.util.Map<String, String> map) {
        return map.entrySet().stream()
                .flatMap(e -> java.util.stream.Stream.of(e.getKey(), e.getValue()))
                .toList();
    }

    @Test
    @DisplayName("a Redis on a fake clock expires a key when its clock steps past the TTL")
    void redisClockStepExpiresKeys() {
        try (PrivateRedis redis =
                        PrivateRedis.builder().fakeClock(Duration.ZERO).start();
                Jedis j = redis.connect()) {
            long before = Long.parseLong(j.time().get(0));
            j.set("k", "v", SetParams.setParams().px(60_000));
            redis.clock().step(Duration.ofSeconds(120));
            long after = Long.parseLong(j.time().get(0));
            assertTrue(after - before >= 119, "TIME jumped by " + (after - before) + " s");
            assertNull(j.get("k"), "the 60 s lease ended when the clock stepped 120 s");
            redis.clock().step(Duration.ofSeconds(-180));
            assertTrue(Long.parseLong(j.time().get(0)) < before, "and it steps backwards too");
        }
    }

    @Test
    @DisplayName("PostgreSQL failover: the promoted replica has what it replayed before the lag and takes writes")
    void postgresFailoverLosesExactlyTheLaggedWrites() throws Exception {
        Path primaryDir, replicaDir;
        try (PostgresReplicaPair pair = PostgresReplicaPair.start()) {
            primaryDir = pair.primary().directory();
            replicaDir = pair.replica().directory();
            pair.primary().execute("CREATE TABLE t (v int); INSERT INTO t VALUES (1)");
            pair.awaitReplicaCaughtUp();
            assertEquals("1", pair.replica().query("SELECT count(*) FROM t"), "streamed to the replica");
            pair.lagReplica();
            pair.primary().execute("INSERT INTO t VALUES (2)");
            pair.failover();
            assertFalse(pair.primary().isAlive(), "the primary was killed");
            assertFalse(pair.replica().inRecovery(), "the replica was promoted");
            try (var c = java.sql.DriverManager.getConnection(pair.jdbcUrl(), "postgres", "");
                    var st = c.createStatement()) {
                st.execute("INSERT INTO t VALUES (3)");
                try (var rs = st.executeQuery("SELECT string_agg(v::text, ',' ORDER BY v) FROM t")) {
                    rs.next();
                    assertEquals("1,3", rs.getString(1), "the row written during the lag was lost");
                }
            }
        }
        assertFalse(Files.exists(primaryDir), "primary directory removed");
        assertFalse(Files.exists(replicaDir), "replica directory removed");
    }

    @Test
    @DisplayName("a private PostgreSQL on a fake clock steps its clock_timestamp(); a kill and restart keeps its data")
    void postgresClockStepAndRestart() {
        try (PrivatePostgres pg = PrivatePostgres.start(Duration.ZERO)) {
            Instant before = Instant.parse(pg.query(
                    "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
            pg.clock().step(Duration.ofHours(1));
            Instant after = Instant.parse(pg.query(
                    "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"));
            assertTrue(Duration.between(before, after).toMinutes() >= 59, "clock stepped: " + before + " -> " + after);
            pg.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)");
            pg.restart(Duration.ZERO, null);
            assertEquals("7", pg.query("SELECT v FROM kept"));
            pg.kill();
            assertFalse(pg.isAlive());
            assertThrows(IllegalStateException.class, () -> pg.query("SELECT 1"));
        }
    }
}
