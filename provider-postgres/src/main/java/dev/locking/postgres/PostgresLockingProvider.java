package dev.locking.postgres;

import com.zaxxer.hikari.HikariDataSource;
import dev.locking.api.LockingException;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import dev.locking.spi.LockingProvider;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.flywaydb.core.api.FlywayException;
import org.postgresql.PGStatement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Locks as rows of the {@code locking} table, each operation one call of a plpgsql function: one
 * round trip, one short transaction, no connection or transaction held while a lock is held.
 */
final class PostgresLockingProvider implements LockingProvider {
    private static final Logger log = LoggerFactory.getLogger(PostgresLockingProvider.class);

    /** A pooled connection that died (killed backend, restarted server) fails fast; try again on a fresh one. */
    private static final int ATTEMPTS = 3;

    private final String label;
    private final PostgresSettings settings;
    private final DataSource dataSource;
    private final HikariDataSource ownedPool;
    private final Statements sql;
    private final NotificationListener listener;
    private final int queryTimeoutSeconds;
    private final int lockTimeoutMillis;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean schemaWarned = new AtomicBoolean();

    PostgresLockingProvider(
            String registrationId,
            PostgresSettings settings,
            Optional<DataSource> handedIn,
            Consumer<String> keyReleased) {
        this.label = "lp_" + registrationId;
        this.settings = settings;
        this.sql = new Statements(settings.schema);
        this.queryTimeoutSeconds = (int) Math.max(1, ceilSeconds(settings.statementTimeout));
        this.lockTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, settings.lockTimeout.toMillis());
        if (handedIn.isPresent()) {
            this.dataSource = handedIn.get();
            this.ownedPool = null;
            if (settings.url != null)
                log.info(
                        "{}: using the DataSource the application handed in; the url option is not used for calls",
                        label);
        } else {
            this.ownedPool = new HikariDataSource(settings.hikariConfig(registrationId));
            this.dataSource = ownedPool;
        }
        if (settings.notifications == PostgresSettings.Notifications.LISTEN) {
            this.listener = new NotificationListener(
                    label, settings.channel(), listenerConnections(registrationId), keyReleased, this::checkSchema);
            listener.start();
        } else {
            this.listener = null;
            Thread check = new Thread(this::checkSchema, "locking-postgres-schema-check-" + label);
            check.setDaemon(true);
            check.start();
        }
        log.info("{}: PostgreSQL locks in schema {} of {}, notifications {}", label, settings.schema, where(), mode());
    }

    @Override
    public AcquireResult tryAcquire(AcquireRequest request) {
        List<String> keys = request.keys();
        // Stored with the grant: a retry after a lost reply finds its own grant instead of "held".
        String grant = UUID.randomUUID().toString();
        try {
            return call("acquire " + describe(keys), c -> {
                try (PreparedStatement ps = prepare(c, sql.tryAcquire)) {
                    ps.setArray(1, textArray(c, keys));
                    ps.setString(2, request.owner());
                    setMillis(ps, 3, request.lease());
                    ps.setString(4, request.waiterId());
                    ps.setString(5, grant);
                    ps.setLong(6, settings.waiterExpiry.toMillis());
                    ps.setInt(7, lockTimeoutMillis);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        return readAcquire(rs, keys);
                    }
                }
            });
        } catch (LockingException e) {
            // Another call on these keys ran longer than lock-timeout: the keys are busy right now;
            // report the first one, and a waiting caller simply tries again.
            if (e.getCause() instanceof SQLException s && "55P03".equals(s.getSQLState()))
                return new AcquireResult.Blocked(keys.get(0), null, null);
            throw e;
        }
    }

    private static AcquireResult readAcquire(ResultSet rs, List<String> keys) throws SQLException {
        if (rs.getBoolean("granted")) {
            Array tokenArray = rs.getArray("tokens");
            Object[] tokens = (Object[]) tokenArray.getArray();
            Map<String, Long> byKey = new HashMap<>();
            for (int i = 0; i < keys.size(); i++) byKey.put(keys.get(i), ((Number) tokens[i]).longValue());
            OffsetDateTime expires = rs.getObject("expires_at", OffsetDateTime.class);
            return new AcquireResult.Acquired(byKey, expires == null ? null : expires.toInstant());
        }
        long retryMillis = rs.getLong("retry_after_ms");
        Duration retryAfter = rs.wasNull() ? null : Duration.ofMillis(Math.max(1, retryMillis));
        return new AcquireResult.Blocked(rs.getString("blocked_key"), retryAfter, rs.getString("ahead_waiter"));
    }

    @Override
    public boolean release(List<String> keys, String owner) {
        return call("release " + describe(keys), c -> {
            try (PreparedStatement ps = prepare(c, sql.release)) {
                ps.setArray(1, textArray(c, keys));
                ps.setString(2, owner);
                ps.setInt(3, lockTimeoutMillis);
                return single(ps).getBoolean(1);
            }
        });
    }

    @Override
    public int releaseAll(String owner) {
        return call("releaseAll of " + (owner == null ? "anonymous locks" : "owner \"" + owner + "\""), c -> {
            try (PreparedStatement ps = prepare(c, sql.releaseAll)) {
                ps.setString(1, owner);
                return single(ps).getInt(1);
            }
        });
    }

    @Override
    public boolean renew(List<String> keys, String owner, Duration lease) {
        return call("renew " + describe(keys), c -> {
            try (PreparedStatement ps = prepare(c, sql.renew)) {
                ps.setArray(1, textArray(c, keys));
                ps.setString(2, owner);
                setMillis(ps, 3, lease);
                ps.setInt(4, lockTimeoutMillis);
                return single(ps).getBoolean(1);
            }
        });
    }

    @Override
    public void leaveQueue(List<String> keys, String waiterId) {
        call("leave the queue of " + describe(keys), c -> {
            try (PreparedStatement ps = prepare(c, sql.leaveQueue)) {
                ps.setArray(1, textArray(c, keys));
                ps.setString(2, waiterId);
                ps.setInt(3, lockTimeoutMillis);
                single(ps);
                return null;
            }
        });
    }

    @Override
    public Optional<List<HeldLock>> list(String owner, int limit) {
        return Optional.of(call("list locks", c -> {
            try (PreparedStatement ps = prepare(c, sql.list)) {
                ps.setString(1, owner);
                ps.setBoolean(2, owner == null);
                ps.setInt(3, limit);
                List<HeldLock> held = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        OffsetDateTime expires = rs.getObject(3, OffsetDateTime.class);
                        held.add(new HeldLock(
                                rs.getString(1),
                                rs.getString(2),
                                expires == null ? null : expires.toInstant(),
                                rs.getLong(4)));
                    }
                }
                return held;
            }
        }));
    }

    @Override
    public Optional<Duration> pollInterval() {
        return Optional.of(settings.pollInterval);
    }

    @Override
    public List<String> migrate() {
        // The start-up check would only race this migration and warn about what it is fixing.
        schemaWarned.set(true);
        try {
            List<String> applied = PostgresMigrations.migrate(dataSource, settings.schema);
            applied.forEach(line -> log.info("{}: applied {}", label, line));
            return applied;
        } catch (FlywayException e) {
            throw new LockingException(
                    label + " (locking-postgres): migrating schema \"" + settings.schema + "\" of " + where()
                            + " failed: " + e.getMessage() + ". Check that the user may create tables and"
                            + " functions in that schema, then run migrate again.",
                    e);
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        if (listener != null) listener.close();
        if (ownedPool != null) ownedPool.close();
    }

    @Override
    public String toString() {
        return "PostgresLockingProvider{" + label + ", " + where() + ", schema=" + settings.schema + ", notifications="
                + mode() + "}";
    }

    /** True while the LISTEN connection is up (tests, diagnostics). */
    boolean listening() {
        return listener != null && listener.listening();
    }

    // ---------------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface SqlCall<T> {
        T run(Connection connection) throws SQLException;
    }

    private <T> T call(String what, SqlCall<T> body) {
        if (closed.get()) throw new IllegalStateException(label + " is closed");
        for (int attempt = 1; ; attempt++) {
            Connection connection = borrow(what);
            try {
                return runOn(connection, body);
            } catch (SQLException e) {
                if (attempt >= ATTEMPTS || !retryable(e)) throw failure(what, e);
                // Killed backends and restarted servers leave dead connections in the pool; they
                // fail before the statement ran, so trying again on a fresh one is safe.
                log.debug("{}: {} failed on a dead connection ({}); trying a fresh one", label, what, e.toString());
                if (ownedPool != null) ownedPool.getHikariPoolMXBean().softEvictConnections();
            }
        }
    }

    private <T> T runOn(Connection connection, SqlCall<T> body) throws SQLException {
        try (connection) {
            // An application DataSource may hand out connections with auto-commit off; the lock
            // functions must still commit at once, or they would hold their advisory locks.
            boolean manual = !connection.getAutoCommit();
            try {
                T result = body.run(connection);
                if (manual) connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                if (manual) rollbackQuietly(connection);
                throw e;
            }
        }
    }

    private Connection borrow(String what) {
        try {
            return dataSource.getConnection();
        } catch (SQLException e) {
            throw new LockingException(
                    label + " (locking-postgres): " + what + " failed: no connection to " + where() + " ("
                            + e.getMessage() + "). Check that PostgreSQL is running and reachable and that url,"
                            + " user and password are right; the call can be retried.",
                    e);
        }
    }

    private PreparedStatement prepare(Connection c, String statement) throws SQLException {
        PreparedStatement ps = c.prepareStatement(statement);
        // Unnamed statements only: named server-side statements break behind PgBouncer in
        // transaction mode, and planning "SELECT f($1..)" costs next to nothing.
        if (ps.isWrapperFor(PGStatement.class)) ps.unwrap(PGStatement.class).setPrepareThreshold(0);
        ps.setQueryTimeout(queryTimeoutSeconds);
        return ps;
    }

    private static ResultSet single(PreparedStatement ps) throws SQLException {
        ResultSet rs = ps.executeQuery();
        rs.next();
        return rs;
    }

    private static Array textArray(Connection c, List<String> values) throws SQLException {
        return c.createArrayOf("text", values.toArray(new String[0]));
    }

    private static void setMillis(PreparedStatement ps, int index, Duration d) throws SQLException {
        if (d == null) ps.setNull(index, Types.BIGINT);
        else ps.setLong(index, Math.max(1, ceilMillis(d)));
    }

    private static long ceilMillis(Duration d) {
        long millis = d.toMillis();
        return d.minusMillis(millis).isZero() ? millis : millis + 1;
    }

    private static long ceilSeconds(Duration d) {
        long seconds = d.toSeconds();
        return d.minusSeconds(seconds).isZero() ? seconds : seconds + 1;
    }

    private static boolean retryable(SQLException e) {
        String state = e.getSQLState();
        return connectionLost(e)
                || "40P01".equals(state) // deadlock_detected: rolled back, nothing happened
                || "40001".equals(state); // serialization_failure: rolled back, nothing happened
    }

    private static boolean connectionLost(SQLException e) {
        String state = e.getSQLState();
        if (state == null) return false;
        return state.startsWith("08") // connection exceptions, I/O errors
                || state.equals("57P01") // admin_shutdown: pg_terminate_backend, server stopping
                || state.equals("57P02") // crash_shutdown
                || state.equals("57P03"); // cannot_connect_now: server starting up
    }

    private LockingException failure(String what, SQLException e) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String prefix = label + " (locking-postgres): " + what + " failed: ";
        switch (state) {
            case "42883", "42P01", "3F000" -> {
                return new LockingException(
                        prefix + "the locking schema \"" + settings.schema + "\" is not migrated (" + e.getMessage()
                                + "). Run the migrations once against this database: LockingModule.migrate()"
                                + " from the application, or `locking migrate` from the command line.",
                        e);
            }
            case "57014" -> {
                return new LockingException(
                        prefix + "cancelled after statement-timeout (" + settings.statementTimeout + "). The database"
                                + " is overloaded or hung; the call can be retried.",
                        e);
            }
            case "55P03" -> {
                return new LockingException(
                        prefix + "another call on the same keys held them longer than lock-timeout ("
                                + settings.lockTimeout + "). The database is overloaded, or an unrelated advisory"
                                + " lock of the application shares a hash with a key; the call can be retried.",
                        e);
            }
            case "25000" -> {
                return new LockingException(prefix + e.getMessage(), e);
            }
            default -> {
                String next = connectionLost(e)
                        ? " Check that PostgreSQL at " + where() + " is running; the call can be retried."
                        : " This is unexpected: please report it with the SQL state.";
                return new LockingException(
                        prefix + e.getMessage() + " (SQL state " + (state.isEmpty() ? "none" : state) + ")." + next, e);
            }
        }
    }

    /** Warns at start when the schema is visibly not migrated; calls would fail with the same advice. */
    private void checkSchema() {
        if (closed.get() || schemaWarned.get()) return;
        try (Connection c = dataSource.getConnection();
                PreparedStatement ps = prepare(c, sql.schemaPresent)) {
            ps.setString(1, settings.schema);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && !rs.getBoolean(1) && schemaWarned.compareAndSet(false, true))
                    log.warn(
                            "{}: schema \"{}\" of {} has no locking tables yet: calls fail until the migrations run"
                                    + " (LockingModule.migrate() or `locking migrate`)",
                            label,
                            settings.schema,
                            where());
            }
            if (!c.getAutoCommit()) c.commit();
        } catch (SQLException | RuntimeException e) {
            log.debug("{}: could not check the locking schema at start: {}", label, e.toString());
        }
    }

    private NotificationListener.ConnectionSource listenerConnections(String registrationId) {
        String url = settings.listenUrl != null
                ? settings.listenUrl
                : (ownedPool != null || settings.url != null) ? settings.url : null;
        if (url == null) {
            // The application's DataSource only: one of its connections is kept for LISTEN.
            DataSource ds = dataSource;
            return ds::getConnection;
        }
        return () -> {
            Properties props = new Properties();
            if (settings.user != null) props.setProperty("user", settings.user);
            if (settings.password != null) props.setProperty("password", settings.password);
            props.setProperty("ApplicationName", "dev.locking listener lp_" + registrationId);
            props.setProperty("tcpKeepAlive", "true");
            props.setProperty("connectTimeout", "10");
            Connection c = new org.postgresql.Driver().connect(url, props);
            if (c == null) throw new SQLException("not a PostgreSQL JDBC URL: " + PostgresSettings.redact(url));
            return c;
        };
    }

    private String where() {
        if (ownedPool != null) return PostgresSettings.redact(settings.url);
        return "the application's DataSource";
    }

    private String mode() {
        if (settings.notifications == PostgresSettings.Notifications.POLL)
            return "poll every " + settings.pollInterval.toMillis() + " ms";
        return "LISTEN/NOTIFY on "
                + (settings.listenUrl != null ? PostgresSettings.redact(settings.listenUrl) : where())
                + ", polling every " + settings.pollInterval.toMillis() + " ms as backstop";
    }

    private static String describe(List<String> keys) {
        if (keys.size() == 1) return "key \"" + keys.get(0) + "\"";
        if (keys.size() <= 3) return "keys " + keys;
        return "keys " + keys.subList(0, 3) + " and " + (keys.size() - 3) + " more";
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // The connection is broken; the pool discards it.
        }
    }
}
