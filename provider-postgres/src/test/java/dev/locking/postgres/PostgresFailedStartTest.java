package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A module whose migrate-on-start fails closes its pool, its listener and its threads. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresFailedStartTest {
    private static final PostgresServer server = PostgresServer.shared();

    @Test
    void aFailedMigrateOnStartLeavesNoConnectionAndNoThread() throws Exception {
        // A schema the migration cannot complete: V1 creates this sequence and finds it there.
        String schema = server.newSchema("failed_start");
        server.execute("CREATE SEQUENCE " + schema + ".locking_fencing_token_seq");
        String id = "failed-start-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> registration = Map.of(
                "resolve",
                "locking-postgres",
                "id",
                id,
                "options",
                TestModules.options(server, server.jdbcUrl(), schema));
        var config = ConfigFactory.parseMap(
                        Map.of("locking.providers", List.of(registration), "locking.migrate-on-start", true))
                .withFallback(ConfigFactory.load());
        List<String> threadsBefore = lockingThreads();
        for (int i = 0; i < 5; i++) assertThrows(RuntimeException.class, () -> LockingModule.create(config));
        // Every session the provider opened carries its registration in application_name.
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        int sessions = sessions(id);
        while (sessions > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
            sessions = sessions(id);
        }
        assertEquals(0, sessions, "server sessions left open by the failed starts");
        List<String> threads = lockingThreads();
        while (!threadsBefore.containsAll(threads) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            threads = lockingThreads();
        }
        assertTrue(
                threadsBefore.containsAll(threads), "threads left behind: " + threads + ", before: " + threadsBefore);
        server.dropSchema(schema);
    }

    private static int sessions(String registrationId) throws SQLException {
        try (Connection c = server.dataSource().getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE ? AND pid <> pg_backend_pid()")) {
            ps.setString(1, "%lp_" + registrationId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static List<String> lockingThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(name -> name.startsWith("locking-"))
                .sorted()
                .toList();
    }
}
