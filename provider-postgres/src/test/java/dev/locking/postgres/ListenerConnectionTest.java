package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.PostgresServer;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * The LISTEN connection is the provider's own, opened from the settings of the application's
 * DataSource, never a connection held out of the application's pool.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ListenerConnectionTest {
    private static final PostgresServer server = PostgresServer.shared();
    private static String schema;

    @BeforeAll
    static void migrate() {
        schema = TestModules.migratedSchema(server, "listener");
    }

    /** Options for a handed-in DataSource: no url. */
    private static Map<String, Object> handedInOptions() {
        Map<String, Object> options = new HashMap<>();
        options.put("schema", schema);
        return options;
    }

    private static PostgresLockingProvider provider(TestContext context) {
        return (PostgresLockingProvider) new PostgresLockingProviderFactory().create(context);
    }

    private static void awaitListening(PostgresLockingProvider provider) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!provider.listening() && System.nanoTime() < deadline) Thread.sleep(20);
        assertTrue(provider.listening(), "the listener connected");
    }

    /**
     * A release of a key with a waiter (one without a lease, so it is woken rather than handed the
     * key) reaches the provider's listener as a notification.
     */
    private static void assertReleaseIsNotified(PostgresLockingProvider provider, TestContext context)
            throws InterruptedException {
        String key = "listener-" + UUID.randomUUID();
        assertInstanceOf(
                AcquireResult.Acquired.class, provider.tryAcquire(new AcquireRequest(List.of(key), "H", null, null)));
        assertInstanceOf(
                AcquireResult.Blocked.class,
                provider.tryAcquire(new AcquireRequest(List.of(key), "W", null, "waiter-" + UUID.randomUUID())));
        assertTrue(provider.release(List.of(key), "H"));
        assertEquals(key, context.released.poll(10, TimeUnit.SECONDS), "the release was notified");
    }

    @Test
    @DisplayName("with the application's HikariCP pool, no connection of it is active at idle, leak detection stays"
            + " quiet, and releases are still notified")
    void theApplicationsPoolLendsTheListenerNothing() throws Exception {
        HikariConfig config = TestModules.appPoolConfig(server);
        config.setPoolName("app-pool-listener-test");
        config.setMaximumPoolSize(3);
        config.setLeakDetectionThreshold(2000);
        Logger hikariLog = (Logger) LoggerFactory.getLogger("com.zaxxer.hikari");
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        hikariLog.addAppender(logs);
        try (HikariDataSource appPool = new HikariDataSource(config)) {
            TestContext context = new TestContext(handedInOptions(), appPool);
            try (PostgresLockingProvider provider = provider(context)) {
                awaitListening(provider);
                Thread.sleep(2500); // past the leak detection threshold
                assertEquals(0, appPool.getHikariPoolMXBean().getActiveConnections(), "active connections at idle");
                assertReleaseIsNotified(provider, context);
                assertEquals(0, appPool.getHikariPoolMXBean().getActiveConnections(), "active connections after");
            }
        } finally {
            hikariLog.detachAppender(logs);
        }
        List<String> leaks = logs.list.stream()
                .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .map(ILoggingEvent::getFormattedMessage)
                .filter(m -> m.contains("leak"))
                .toList();
        assertEquals(List.of(), leaks, "HikariCP's leak detection warned");
    }

    @Test
    @DisplayName("with pgjdbc's own DataSource, the listener connects with its settings")
    void pgjdbcDataSourceSettingsAreUsed() throws Exception {
        TestContext context = new TestContext(handedInOptions(), server.dataSource());
        try (PostgresLockingProvider provider = provider(context)) {
            awaitListening(provider);
            assertReleaseIsNotified(provider, context);
        }
    }

    @Test
    @DisplayName("a DataSource whose settings cannot be read: one warning naming listen-url, waiters poll; with"
            + " listen-url they are notified")
    void anOpaqueDataSourceFallsBackToPollingWithOneWarning() throws Exception {
        DataSource opaque = new Opaque(server.dataSource());
        Logger providerLog = (Logger) LoggerFactory.getLogger(PostgresLockingProvider.class);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        providerLog.addAppender(logs);
        Map<String, Object> options = handedInOptions();
        options.put("poll-interval", "100ms");
        options.put("waiter-expiry", "1s");
        try (PostgresLockingProvider provider = provider(new TestContext(options, opaque))) {
            Thread.sleep(300);
            assertFalse(provider.listening());
            assertTrue(provider.toString().contains("poll every 100 ms"), provider.toString());
            String key = "opaque-" + UUID.randomUUID();
            assertInstanceOf(
                    AcquireResult.Acquired.class,
                    provider.tryAcquire(new AcquireRequest(List.of(key), "A", null, null)));
            assertTrue(provider.release(List.of(key), "A"));
        } finally {
            providerLog.detachAppender(logs);
        }
        List<String> warnings = logs.list.stream()
                .filter(e -> e.getLevel() == Level.WARN)
                .map(ILoggingEvent::getFormattedMessage)
                .toList();
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("listen-url"), warnings.get(0));

        Map<String, Object> withListenUrl = handedInOptions();
        withListenUrl.put("listen-url", server.jdbcUrl());
        withListenUrl.put("user", server.user());
        if (server.password() != null) withListenUrl.put("password", server.password());
        TestContext context = new TestContext(withListenUrl, opaque);
        try (PostgresLockingProvider provider = provider(context)) {
            awaitListening(provider);
            assertReleaseIsNotified(provider, context);
        }
    }

    @Test
    @DisplayName("a listener connection the network black-holes is found dead and replaced within seconds")
    void aBlackHoledListenerIsReplacedWithinSeconds() throws Exception {
        try (FaultyProxy proxy = FaultyProxy.start("listener", server.host(), server.port())) {
            Map<String, Object> options = TestModules.options(server, server.jdbcUrl(), schema);
            // Only the listener goes through the proxy; the pool connects directly.
            options.put(
                    "listen-url", "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + server.database());
            TestContext context = new TestContext(options);
            try (PostgresLockingProvider provider = provider(context)) {
                awaitListening(provider);
                long accepted = proxy.connectionsAccepted();
                proxy.blackHole();
                long blackHoled = System.nanoTime();
                FaultyProxy.await(() -> !provider.listening(), Duration.ofSeconds(20), "the listener to notice");
                long noticed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - blackHoled);
                FaultyProxy.await(
                        () -> proxy.connectionsAccepted() > accepted,
                        Duration.ofSeconds(20),
                        "the listener to connect again");
                proxy.heal();
                awaitListening(provider);
                assertReleaseIsNotified(provider, context);
                assertTrue(noticed < 15_000, "the dead listener was noticed after " + noticed + " ms");
            }
        }
    }

    /** A DataSource that hands out connections and tells nothing about how it makes them. */
    private static final class Opaque implements DataSource {
        private final DataSource target;

        Opaque(DataSource target) {
            this.target = target;
        }

        @Override
        public Connection getConnection() throws SQLException {
            return target.getConnection();
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            return target.getConnection(username, password);
        }

        @Override
        public PrintWriter getLogWriter() {
            return null;
        }

        @Override
        public void setLogWriter(PrintWriter out) {}

        @Override
        public void setLoginTimeout(int seconds) {}

        @Override
        public int getLoginTimeout() {
            return 0;
        }

        @Override
        public java.util.logging.Logger getParentLogger() throws SQLFeatureNotSupportedException {
            throw new SQLFeatureNotSupportedException();
        }

        @Override
        public <T> T unwrap(Class<T> iface) throws SQLException {
            throw new SQLException("not a wrapper");
        }

        @Override
        public boolean isWrapperFor(Class<?> iface) {
            return false;
        }
    }
}
