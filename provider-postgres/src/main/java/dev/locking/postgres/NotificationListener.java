package dev.locking.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.Consumer;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection per registration that LISTENs on the schema's channel and turns each NOTIFY
 * (payload: the key) into a wake-up. It reconnects on its own after a failure; meanwhile waiters
 * fall back to polling, so a lost notification only costs one poll interval.
 */
final class NotificationListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NotificationListener.class);
    private static final int WAIT_MILLIS = 500;
    private static final long PING_NANOS = 10_000_000_000L;
    private static final long MAX_BACKOFF_MILLIS = 5_000;

    interface ConnectionSource {
        Connection open() throws SQLException;
    }

    private final String label;
    private final String channel;
    private final ConnectionSource source;
    private final Consumer<String> onKey;
    private final Runnable onConnected;
    private final Thread thread;
    private volatile boolean closed;
    private volatile boolean listening;

    NotificationListener(
            String label, String channel, ConnectionSource source, Consumer<String> onKey, Runnable onConnected) {
        this.label = label;
        this.channel = channel;
        this.source = source;
        this.onKey = onKey;
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

    private void run() {
        long backoff = 200;
        boolean warned = false;
        while (!closed) {
            try (Connection connection = source.open()) {
                connection.setAutoCommit(true);
                try (Statement st = connection.createStatement()) {
                    st.execute("LISTEN \"" + channel + "\"");
                }
                listening = true;
                if (warned) log.info("{}: notification listener reconnected", label);
                warned = false;
                backoff = 200;
                onConnected.run();
                listen(connection);
            } catch (SQLException | RuntimeException e) {
                if (closed) break;
                if (!warned)
                    log.warn(
                            "{}: notification listener lost its connection ({}); waiters poll until it is back",
                            label,
                            e.toString());
                else log.debug("{}: notification listener still cannot connect: {}", label, e.toString());
                warned = true;
            } finally {
                listening = false;
            }
            sleep(backoff);
            backoff = Math.min(MAX_BACKOFF_MILLIS, backoff * 2);
        }
    }

    private void listen(Connection connection) throws SQLException {
        PGConnection pg = connection.unwrap(PGConnection.class);
        long lastPing = System.nanoTime();
        while (!closed) {
            PGNotification[] notifications = pg.getNotifications(WAIT_MILLIS);
            if (notifications != null)
                for (PGNotification n : notifications) if (channel.equals(n.getName())) onKey.accept(n.getParameter());
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
        thread.interrupt();
        try {
            thread.join(2 * WAIT_MILLIS + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
