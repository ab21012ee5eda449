package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.LockingProvider;
import dev.locking.testkit.servers.PostgresServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * A database role whose sessions carry a short statement_timeout, lock_timeout and
 * idle_in_transaction_session_timeout (ALTER ROLE ... SET), as operators set them for applications.
 * The role is the test's own, created and dropped here; nothing else on the server changes.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServerTimeoutSettingsTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static final String ROLE =
            "t_timeouts_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    private static String schema;

    @BeforeAll
    static void createRole() {
        schema = TestModules.migratedSchema(server, "timeouts");
        server.execute("CREATE ROLE " + ROLE + " LOGIN");
        server.execute("ALTER ROLE " + ROLE + " SET statement_timeout = '50ms'");
        server.execute("ALTER ROLE " + ROLE + " SET lock_timeout = '10ms'");
        server.execute("ALTER ROLE " + ROLE + " SET idle_in_transaction_session_timeout = '20ms'");
        server.execute("GRANT USAGE ON SCHEMA " + schema + " TO " + ROLE);
        server.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO " + ROLE);
        server.execute("GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA " + schema + " TO " + ROLE);
        server.execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA " + schema + " TO " + ROLE);
    }

    @AfterAll
    static void dropRole() {
        server.execute("DROP OWNED BY " + ROLE);
        server.execute("DROP ROLE IF EXISTS " + ROLE);
    }

    private static Map<String, Object> options() {
        Map<String, Object> options = new HashMap<>(TestModules.options(server, server.jdbcUrl(), schema));
        options.put("user", ROLE);
        options.remove("password");
        options.put("notifications", "poll");
        return options;
    }

    /** Another session holds {@code key}'s advisory lock for {@code millis}, as a slow concurrent call would. */
    private static CompletableFuture<Void> holdKeyBriefly(String key, long millis) throws SQLException {
        Connection other = server.dataSource().getConnection();
        try (PreparedStatement ps = other.prepareStatement("SELECT pg_advisory_lock(hashtextextended(?, 0))")) {
            ps.setString(1, key);
            ps.execute();
        }
        return CompletableFuture.runAsync(() -> {
            try (other) {
                Thread.sleep(millis);
                try (PreparedStatement ps = other.prepareStatement("SELECT pg_advisory_unlock_all()")) {
                    ps.execute();
                }
            } catch (SQLException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static void assertWaitingCallOutlivesTheRolesTimeouts(LockingProvider p) throws Exception {
        String key = "timeouts-" + UUID.randomUUID();
        CompletableFuture<Void> held = holdKeyBriefly(key, 400);
        // Waits ~400 ms for the key's advisory lock: eight times the role's statement_timeout.
        AcquireResult r = p.tryAcquire(new AcquireRequest(List.of(key), "A", null, null, Duration.ofSeconds(3)));
        assertInstanceOf(AcquireResult.Acquired.class, r, "a waiting call under the role's 50 ms statement_timeout");
        held.get(10, TimeUnit.SECONDS);
        assertTrue(p.release(List.of(key), "A"));
    }

    @Test
    @DisplayName("statement_timeout, lock_timeout and idle_in_transaction_session_timeout set on the role do not"
            + " break a waiting call")
    void roleLevelTimeoutsDoNotBreakAWaitingCall() throws Exception {
        Logger logger = (Logger) LoggerFactory.getLogger(PostgresLockingProvider.class);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        logger.addAppender(logs);
        try (LockingProvider p = new PostgresLockingProviderFactory().create(new TestContext(options()))) {
            assertWaitingCallOutlivesTheRolesTimeouts(p);
        } finally {
            logger.detachAppender(logs);
        }
        assertTrue(
                logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains("statement_timeout")),
                "the provider said why it turns the server's timeouts off");
    }

    @Test
    @DisplayName("the same through an application DataSource with auto-commit off, where each call commits itself")
    void roleLevelTimeoutsDoNotBreakAWaitingCallOnAManualCommitDataSource() throws Exception {
        HikariConfig config = TestModules.appPoolConfig(server);
        config.setUsername(ROLE);
        config.setPassword(null);
        config.setAutoCommit(false);
        config.setMaximumPoolSize(2);
        Map<String, Object> options = new HashMap<>();
        options.put("schema", schema);
        options.put("notifications", "poll");
        try (HikariDataSource appPool = new HikariDataSource(config);
                LockingProvider p = new PostgresLockingProviderFactory().create(new TestContext(options, appPool))) {
            assertWaitingCallOutlivesTheRolesTimeouts(p);
            // Release, renew and releaseAll run under the guard too.
            String key = "timeouts-all-" + UUID.randomUUID();
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    p.tryAcquire(new AcquireRequest(List.of(key), "B", Duration.ofSeconds(30), null)));
            assertTrue(p.renew(List.of(key), "B", Duration.ofSeconds(30)));
            assertTrue(p.releaseAll("B") == 1);
        }
    }
}
