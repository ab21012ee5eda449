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
        final PreparedStatement acquire;
        final PreparedStatement release;
        final PreparedStatement ping;

        Session(
                Connection connection,
                int backendPid,
                PreparedStatement acquire,
                PreparedStatement release,
                PreparedStatement ping) {
            this.connection = connection;
            this.backendPid = backendPid;
            this.acquire = acquire;
            this.release = release;
            this.ping = ping;
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
    private final String schema;
    private final String acquireSql;
    private final String releaseSql;
    private final long waiterStaleMillis;
    private final String applicationName;

    PostgresSessions(String label, ListenerTarget target, PostgresSettings settings) {
        this.label = label;
        this.target = target;
        this.schema = settings.schema;
        this.acquireSql = Statements.load("session-acquire.sql", settings.schema);
        this.releaseSql = Statements.load("session-release.sql", settings.schema);
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
            try (Statement st = c.createStatement();
                    ResultSet rs =
                            st.executeQuery("SELECT pg_backend_pid(), current_setting('server_version_num')::int")) {
                rs.next();
                pid = rs.getInt(1);
                if (rs.getInt(2) < 140000)
                    throw new LockingException(label + " (locking-postgres): mode = \"session\" needs PostgreSQL 14 or"
                            + " later (idle_session_timeout frees the locks of a frozen process); the server is "
                            + rs.getInt(2) + ". Use mode = \"table\".");
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
                    + " set_config('lock_timeout', '0', false)")) {
                ps.setString(1, idleTimeoutMillis + "ms");
                ps.setString(2, idleTimeoutMillis / 2 + "ms");
                ps.executeQuery().close();
            }
            return new Session(
                    c,
                    pid,
                    c.prepareStatement(acquireSql),
                    c.prepareStatement(releaseSql),
                    c.prepareStatement("SELECT 1"));
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
        PreparedStatement ps = s.acquire;
        Connection c = s.connection;
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
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(("dev.locking/" + schema + "/").getBytes(StandardCharsets.UTF_8));
            byte[] d = sha.digest(key.getBytes(StandardCharsets.UTF_8));
            long id = 0;
            for (int i = 0; i < 8; i++) id = (id << 8) | (d[i] & 0xff);
            return id;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    @Override
    public String toString() {
        return target.toString();
    }
}
