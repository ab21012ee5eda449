package dev.locking.postgres;

import dev.locking.spi.Printable;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection per registration that LISTENs on the schema's channel and hands each NOTIFY's
 * payload (a released key) to its handler, which wakes the key's local waiter. It reconnects on its
 * own after a failure; meanwhile waiters fall back to polling, so a lost notification only costs
 * one poll interval.
 *
 * <p>Before it LISTENs it checks that its connection is a session of its own: behind a pooler in
 * transaction (or statement) mode LISTEN would land on a server session shared with other clients
 * and receive nothing, so the listener warns and stops, and waiters poll.
 *
 * <p>Its connection is its own (see {@link ListenerTarget}), never one of a pool.
 */
final class NotificationListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NotificationListener.class);
    private static final int WAIT_MILLIS = 500;

    /**
     * How often the listener asks the server whether its connection still works: a connection the
     * network black-holes (a half-open TCP connection) never fails a read that merely times out, so
     * without asking, notifications would stop unnoticed for as long as the network stays that way.
     */
    private static final long PING_NANOS = TimeUnit.SECONDS.toNanos(2);

    /**
     * The listener connection's socket timeout (pgjdbc's socketTimeout, in seconds): a ping or a
     * connection attempt that gets no answer for this long fails, and the listener reconnects. With
     * the ping, a dead connection is replaced within PING_NANOS + this.
     */
    static final int SOCKET_TIMEOUT_SECONDS = 5;

    private static final long MAX_BACKOFF_MILLIS = 5_000;

    /** Opens the listener's connection; its toString names where, without secrets, for log lines. */
    interface ConnectionSource {
        Connection open() throws SQLException;
    }

    private final String label;
    /** Channel name to the handler of its payloads. */
    private final Map<String, Consumer<String>> channels;

    private final ConnectionSource source;
    private final Runnable onConnected;
    private final Thread thread;
    private volatile boolean closed;
    private volatile boolean listening;
    private volatile boolean pooled;
    /** The connection in use, so that close() can break a call blocked on a dead network. */
    private volatile Connection current;

    NotificationListener(
            String label, Map<String, Consumer<String>> channels, ConnectionSource source, Runnable onConnected) {
        this.label = label;
        this.channels = Map.copyOf(channels);
        this.source = source;
        this.onConnected = onConnected;
        this.thread = new Thread(this::run, "locking-postgres-listener-" + label);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** True while a LISTEN connection is up. */
    boolean listening() {
        return listening;
    }

    /** True once the listener found a transaction-mode pooler in front of it and stopped: waiters poll. */
    boolean stoppedBehindPooler() {
        return pooled;
    }

    private void run() {
        long backoff = 200;
        boolean warned = false;
        boolean everConnected = false;
        while (!closed) {
            Connection connection = null;
            try {
                connection = source.open();
                current = connection;
                connection.setAutoCommit(true);
                if (sharedSession(connection)) {
                    pooled = true;
                    log.warn(
                            "{}: the LISTEN connection goes through a connection pooler in transaction mode"
                                    + " (PgBouncer?), where LISTEN receives nothing: waiters poll instead. Set"
                                    + " listen-url to a direct URL of the database for notifications, or"
                                    + " notifications = poll to say so",
                            label);
                    onConnected.run();
                    break;
                }
                try (Statement st = connection.createStatement()) {
                    for (String channel : channels.keySet()) st.execute("LISTEN \"" + channel + "\"");
                }
                listening = true;
                everConnected = true;
                if (warned) log.info("{}: notification listener reconnected", label);
                warned = false;
                backoff = 200;
                onConnected.run();
                listen(connection);
            } catch (SQLException | RuntimeException e) {
                if (closed) break;
                if (!warned && everConnected)
                    log.warn(
                            "{}: notification listener lost its connection ({}); waiters poll until it is back",
                            label,
                            Printable.escape(e.toString()));
                else if (!warned)
                    log.warn(
                            "{}: notification listener cannot connect to {} ({}); waiters poll until it can. If the"
                                    + " application's DataSource connects in a way the listener cannot repeat, set"
                                    + " listen-url (with the user and password options)",
                            label,
                            source,
                            Printable.escape(e.toString()));
                else
                    log.debug(
                            "{}: notification listener still cannot connect: {}",
                            label,
                            Printable.escape(e.toString()));
                warned = true;
            } finally {
                listening = false;
                if (connection != null) close(connection);
            }
            if (closed || pooled) break;
            sleep(backoff);
            backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        }
    }

    /**
     * True when {@code connection} is not a server session of its own. A pooler hands out cancel
     * keys of its own, so a backend pid in the connection's cancel key that is not the server's
     * {@code pg_backend_pid()} means a pooler; it is in session mode (LISTEN works) only if this
     * connection keeps its server session while another client holds one in a transaction.
     */
    private boolean sharedSession(Connection connection) throws SQLException {
        int pid = backendPid(connection);
        if (connection.unwrap(PGConnection.class).getBackendPID() == pid) return false;
        try (Connection other = source.open()) {
            boolean otherAutoCommit = other.getAutoCommit();
            other.setAutoCommit(false);
            try {
                int otherPid = backendPid(other); // holds its server session until the rollback
                int again = backendPid(connection);
                boolean shared = otherPid == pid || again != pid;
                log.debug(
                        "{}: pooler in front of the LISTEN connection: pids {}, {} (other client {}): {}",
                        label,
                        pid,
                        again,
                        otherPid,
                        shared ? "transaction mode" : "session mode");
                return shared;
            } finally {
                try {
                    other.rollback();
                    other.setAutoCommit(otherAutoCommit);
                } catch (SQLException ignored) {
                    // Closed next anyway.
                }
            }
        } catch (SQLException e) {
            // Statement mode refuses the transaction; any other failure leaves it unproven that this
            // pooler keeps sessions, and polling is correct either way.
            log.debug(
                    "{}: could not check the pooler's mode ({}); assuming transaction mode",
                    label,
                    Printable.escape(e.toString()));
            return true;
        }
    }

    static int backendPid(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private void close(Connection connection) {
        try {
            connection.close();
        } catch (SQLException e) {
            log.debug("{}: closing the listener connection: {}", label, Printable.escape(e.toString()));
        }
    }

    private void listen(Connection connection) throws SQLException {
        PGConnection pg = connection.unwrap(PGConnection.class);
        long lastPing = System.nanoTime();
        while (!closed) {
            PGNotification[] notifications = pg.getNotifications(WAIT_MILLIS);
            if (notifications != null)
                for (PGNotification n : notifications) {
                    Consumer<String> handler = channels.get(n.getName());
                    if (handler != null) handler.accept(n.getParameter());
                }
            // A half-open TCP connection never errors on a read that times out: ask the server.
            if (System.nanoTime() - lastPing > PING_NANOS) {
                try (Statement st = connection.createStatement()) {
                    st.execute("SELECT 1");
                }
                lastPing = System.nanoTime();
            }
        }
    }

    private void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    @Override
    public void close() {
        closed = true;
        Connection c = current;
        if (c != null)
            try {
                c.abort(Runnable::run);
            } catch (SQLException | RuntimeException e) {
                log.debug("{}: aborting the listener connection: {}", label, Printable.escape(e.toString()));
            }
        thread.interrupt();
        try {
            thread.join(2 * WAIT_MILLIS + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
