package dev.locking.postgres;

import dev.locking.api.LockingException;
import dev.locking.session.SessionStore;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Executor;
import org.postgresql.PGConnection;

/**
 * The PostgreSQL part of session mode: a lock is a session-level advisory lock ({@code
 * pg_try_advisory_lock}) on a connection of the provider's own, opened from the same settings as
 * the pool (url, or the application's DataSource's settings, as the LISTEN connection is), never
 * taken from a pool. The server ends such a session when it stays idle for the session timeout
 * ({@code idle_session_timeout}, PostgreSQL 14 and later), which frees its locks.
 */
final class PostgresSessions implements SessionStore<PostgresSessions.Session> {

    /** One server session and its prepared statements. */
    static final class Session {
        final Connection connection;
        final int backendPid;
        /** The server's WAL timeline times 2^52: the high bits of every token issued on this session. */
        final long timelineBits;

        final PreparedStatement acquire;
        final PreparedStatement tryFast;
        final PreparedStatement tryOne;
        final PreparedStatement release;
        final PreparedStatement releaseOne;
        final PreparedStatement handOver;
        final PreparedStatement mark;
        final PreparedStatement unmark;
        final PreparedStatement ping;

        Session(Connection connection, int backendPid, long timeline, Statements sql) throws SQLException {
            this.connection = connection;
            this.backendPid = backendPid;
            this.timelineBits = timeline << 52;
            this.acquire = connection.prepareStatement(sql.acquire);
            this.tryFast = connection.prepareStatement(sql.tryFast);
            this.tryOne = connection.prepareStatement(sql.tryOne);
            this.release = connection.prepareStatement(sql.release);
            this.releaseOne = connection.prepareStatement(sql.releaseOne);
            this.handOver = connection.prepareStatement(sql.handOver);
            this.mark = connection.prepareStatement(sql.mark);
            this.unmark = connection.prepareStatement(sql.unmark);
            this.ping = connection.prepareStatement("SELECT 1");
        }
    }

    /** Session mode's statements. */
    private record Statements(
            String acquire,
            String tryFast,
            String tryOne,
            String release,
            String releaseOne,
            String handOver,
            String mark,
            String unmark,
            String opening) {
        Statements(String schema) {
            this(
                    dev.locking.postgres.Statements.load("session-acquire.sql", schema),
                    dev.locking.postgres.Statements.load("session-try-fast.sql", schema),
                    dev.locking.postgres.Statements.load("session-try-one.sql", schema),
                    dev.locking.postgres.Statements.load("session-release.sql", schema),
                    dev.locking.postgres.Statements.load("session-release-one.sql", schema),
                    dev.locking.postgres.Statements.load("session-hand-over.sql", schema),
                    dev.locking.postgres.Statements.load("session-mark.sql", schema),
                    dev.locking.postgres.Statements.load("session-unmark.sql", schema),
                    dev.locking.postgres.Statements.load("session-timeline.sql", schema));
        }
    }

    /** What a start behind a connection pooler is refused with. */
    static final class BehindPooler extends LockingException {
        private static final long serialVersionUID = 1L;

        BehindPooler(String message) {
            super(message);
        }
    }

    private final String label;
    private final ListenerTarget target;
    private final Statements sql;
    private final long waiterStaleMillis;
    private final String applicationName;

    PostgresSessions(String label, ListenerTarget target, PostgresSettings settings) {
        this.label = label;
        this.target = target;

        this.prefix = ("dev.locking/" + settings.schema + "/").getBytes(StandardCharsets.UTF_8);
        this.sql = new Statements(settings.schema);
        this.waiterStaleMillis = settings.waiterExpiry.toMillis();
        this.applicationName = "dev.locking session " + label;
    }

    @Override
    public Session open(long idleTimeoutMillis) throws Exception {
        Properties overrides = new Properties();
        overrides.setProperty("ApplicationName", applicationName);
        overrides.setProperty("tcpKeepAlive", "true");
        overrides.setProperty("connectTimeout", "10");
        // A backstop: the session set aborts a call unanswered for half the session timeout itself.
        overrides.setProperty("socketTimeout", String.valueOf(Math.max(1, (idleTimeoutMillis + 999) / 1000)));
        overrides.setProperty("prepareThreshold", "1");
        Connection c = target.openPlain(overrides);
        try {
            c.setAutoCommit(true);
            int pid;
            long timeline;
            try (Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery(sql.opening())) {
                rs.next();
                pid = rs.getInt(1);
                if (rs.getInt(2) < 140000)
                    throw new LockingException(label + " (locking-postgres): mode = \"session\" needs PostgreSQL 14 or"
                            + " later (idle_session_timeout frees the locks of a frozen process); the server is "
                            + rs.getInt(2) + ". Use mode = \"table\".");
                timeline = rs.getLong(3);
                if (rs.wasNull())
                    throw new LockingException(label + " (locking-postgres): " + target + " is a standby (in"
                            + " recovery): session locks must be taken on the primary. Point url at the primary.");
                // Tokens are the timeline times 2^52 plus microseconds: 11 bits of timeline fit.
                if (timeline > 2047)
                    throw new LockingException(label + " (locking-postgres): mode = \"session\" issues fencing"
                            + " tokens only on WAL timelines below 2048, the server is on timeline " + timeline
                            + ". Use mode = \"table\".");
            }
            // A pooler hands out cancel keys of its own, so the backend pid of the connection's
            // cancel key is the server's pg_backend_pid() only on a direct connection. Behind a
            // pooler a session lock could stay on a server session another client then uses.
            if (!c.isWrapperFor(PGConnection.class)
                    || c.unwrap(PGConnection.class).getBackendPID() != pid)
                throw new BehindPooler(label + " (locking-postgres): mode = \"session\" holds each lock on a server"
                        + " session, but " + target + " goes through a connection pooler (PgBouncer), where the"
                        + " session a statement runs on is not the connection's own: a lock could stay behind on a"
                        + " session another client then uses. Use mode = \"table\", or set url to a direct"
                        + " connection to PostgreSQL (see docs/postgres.md#modes).");
            try (PreparedStatement ps = c.prepareStatement("SELECT set_config('idle_session_timeout', ?, false),"
                    + " set_config('tcp_user_timeout', ?, false), set_config('statement_timeout', '0', false),"
                    + " set_config('idle_in_transaction_session_timeout', '0', false),"
                    + " set_config('lock_timeout', '0', false),"
                    // Nothing session mode writes must survive a crash (which ends every session and
                    // its locks anyway): a queue entry only, which expires. No call waits for a flush.
                    + " set_config('synchronous_commit', 'off', false)")) {
                ps.setString(1, idleTimeoutMillis + "ms");
                ps.setString(2, idleTimeoutMillis / 2 + "ms");
                ps.executeQuery().close();
            }
            return new Session(c, pid, timeline, sql);
        } catch (SQLException | RuntimeException e) {
            abortQuietly(c);
            throw e;
        }
    }

    @Override
    public void keepAlive(Session s) throws Exception {
        s.ping.executeQuery().close();
    }

    @Override
    public Attempt acquire(Session s, List<String> keys, List<String> lockKeys, String waiterId, String blockedKey)
            throws Exception {
        Connection c = s.connection;
        if (keys.size() == 1 && lockKeys.size() == 1 && waiterId == null && blockedKey == null) {
            String key = keys.get(0);
            long lockId = lockId(key);
            // No waiter has marked the key: the advisory lock alone decides.
            PreparedStatement fast = s.tryFast;
            fast.setString(1, key);
            fast.setInt(2, (int) (lockId >>> 32));
            fast.setInt(3, (int) lockId);
            fast.setLong(4, lockId);
            try (ResultSet rs = fast.executeQuery()) {
                rs.next();
                boolean granted = rs.getBoolean(1);
                if (!rs.wasNull())
                    return new Attempt(
                            granted, granted ? s.timelineBits + rs.getLong(2) : 0, granted ? null : key, null);
            }
            // A waiter has: the queue says whose turn it is.
            PreparedStatement one = s.tryOne;
            one.setString(1, key);
            one.setLong(2, waiterStaleMillis);
            one.setLong(3, lockId);
            try (ResultSet rs = one.executeQuery()) {
                rs.next();
                boolean granted = rs.getBoolean(1);
                return new Attempt(
                        granted,
                        granted ? s.timelineBits + rs.getLong(2) : 0,
                        granted ? null : keys.get(0),
                        rs.getString(3));
            }
        }
        PreparedStatement ps = s.acquire;
        ps.setArray(1, c.createArrayOf("text", keys.toArray()));
        ps.setArray(2, c.createArrayOf("text", lockKeys.toArray()));
        ps.setArray(
                3, c.createArrayOf("bigint", lockKeys.stream().map(this::lockId).toArray()));
        ps.setString(4, waiterId);
        ps.setLong(5, waiterStaleMillis);
        ps.setString(6, blockedKey);
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return new Attempt(rs.getBoolean(1), rs.getLong(2), rs.getString(3), rs.getString(4));
        }
    }

    @Override
    public boolean release(Session s, List<String> keys) throws Exception {
        if (keys.size() == 1) {
            PreparedStatement one = s.releaseOne;
            String key = keys.get(0);
            long lockId = lockId(key);
            one.setInt(1, (int) (lockId >>> 32));
            one.setInt(2, (int) lockId);
            one.setString(3, key);
            one.setLong(4, lockId);
            try (ResultSet rs = one.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
        PreparedStatement ps = s.release;
        Connection c = s.connection;
        ps.setArray(1, c.createArrayOf("text", keys.toArray()));
        ps.setArray(2, c.createArrayOf("bigint", keys.stream().map(this::lockId).toArray()));
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    @Override
    public HandOver handOver(Session s, String key, List<String> candidates) throws Exception {
        PreparedStatement ps = s.handOver;
        ps.setString(1, key);
        ps.setLong(2, waiterStaleMillis);
        ps.setArray(3, s.connection.createArrayOf("text", candidates.toArray()));
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            String waiter = rs.getString(1);
            return waiter == null ? null : new HandOver(waiter, s.timelineBits + rs.getLong(2));
        }
    }

    @Override
    public void markWaiting(Session s, List<String> keys) throws Exception {
        marks(s.mark, s, keys);
    }

    @Override
    public void unmarkWaiting(Session s, List<String> keys) throws Exception {
        marks(s.unmark, s, keys);
    }

    /** Binds the keys' marks, each key's lock id split into the two integers of its mark, and runs {@code ps}. */
    private void marks(PreparedStatement ps, Session s, List<String> keys) throws SQLException {
        Integer[] hi = new Integer[keys.size()];
        Integer[] lo = new Integer[keys.size()];
        for (int i = 0; i < keys.size(); i++) {
            long id = lockId(keys.get(i));
            hi[i] = (int) (id >>> 32);
            lo[i] = (int) id;
        }
        ps.setArray(1, s.connection.createArrayOf("int4", hi));
        ps.setArray(2, s.connection.createArrayOf("int4", lo));
        ps.executeQuery().close();
    }

    @Override
    public void abort(Session s) {
        abortQuietly(s.connection);
    }

    private static void abortQuietly(Connection c) {
        try {
            Executor now = Runnable::run;
            c.abort(now);
        } catch (SQLException | RuntimeException ignored) {
            // Closed already.
        }
    }

    @Override
    public boolean sessionGone(Exception failure) {
        if (!(failure instanceof SQLException e)) return false;
        String state = e.getSQLState();
        if (state == null) return true;
        return state.startsWith("08") // connection exceptions, I/O errors
                || state.startsWith("57P"); // terminated by the administrator, server shutting down
    }

    /**
     * The advisory lock key of {@code key}: the first 8 bytes of SHA-256 of the schema and the key,
     * so that registrations on different schemas have locks of their own.
     */
    Long lockId(String key) {
        MessageDigest sha = digests.get();
        sha.update(prefix);
        byte[] d = sha.digest(key.getBytes(StandardCharsets.UTF_8));
        long id = 0;
        for (int i = 0; i < 8; i++) id = (id << 8) | (d[i] & 0xff);
        return id;
    }

    /** What every key's digest starts with. */
    private final byte[] prefix;

    /** A SHA-256 digest per thread: looking one up costs more than hashing a key. */
    private static final ThreadLocal<MessageDigest> digests = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    });

    @Override
    public String toString() {
        return target.toString();
    }
}
