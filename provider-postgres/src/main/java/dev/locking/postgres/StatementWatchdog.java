package dev.locking.postgres;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.postgresql.PGConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cancels the provider's statements that run past their query timeout, and drops the connection of
 * one whose cancel does not take effect within {@link #ABANDON_AFTER_CANCEL_MILLIS}.
 *
 * <p>pgjdbc's own query timeout schedules a task on its timer thread for every statement and wakes
 * that thread each time; measured on 2 cores, that costs about 0.05 ms per statement, some 10% of
 * an uncontended acquire + release (docs/design-notes.md). This one thread instead looks at the
 * statements in flight every {@link #TICK_MILLIS} while there are any, and parks while there are
 * none, so a call only puts itself in a map and takes itself out. A statement is cancelled at most
 * one tick late.
 *
 * <p>The cancel is a request of its own to the server (pgjdbc's {@link PGConnection#cancelQuery()},
 * on a new connection, waiting for the server to confirm), so it runs on a cancel thread, never on
 * this one. A cancel that arrived late could hit the connection's next statement, so a connection
 * is used again only once its cancel is confirmed: {@link #done()} waits for that, as pgjdbc's own
 * {@code Statement.cancel()} makes its statement wait.
 *
 * <p>A cancel goes unconfirmed when the network between the provider and the server black-holes
 * packets (a half-open connection: a partition, a firewall that drops instead of refusing) or the
 * server's host hangs; the statement would then block until the driver's socket timeout, far past
 * its caller's deadline. So a statement still running, or a cancel still unconfirmed, {@link
 * #ABANDON_AFTER_CANCEL_MILLIS} after the cancel is abandoned: its connection is aborted (its
 * socket closed, so a call blocked reading from it fails at once), and {@link #done()} says {@link
 * Outcome#ABANDONED}: whether the statement took effect on the server is unknown. A server that is
 * merely slow confirms a cancel well within that time.
 */
final class StatementWatchdog implements AutoCloseable {
    static final long TICK_MILLIS = 10;

    /**
     * How long a cancelled statement may still run before its connection is aborted: a live server,
     * even a loaded one, answers a cancel request in far less.
     */
    static final long ABANDON_AFTER_CANCEL_MILLIS = 500;

    /** With nothing in flight for this long, the thread parks until the next statement. */
    private static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    /** Cancels that may be under way at once; the rest queue. Aborts never wait for them. */
    private static final int CANCEL_THREADS = 4;

    private static final Logger log = LoggerFactory.getLogger(StatementWatchdog.class);

    /** How a watched statement ended, as {@link #done()} reports it. */
    enum Outcome {
        /** It finished or failed before its timeout. */
        FINISHED,
        /** This watchdog cancelled it at its timeout. */
        CANCELLED,
        /** It did not answer its cancel either: its connection was aborted, its effect is unknown. */
        ABANDONED
    }

    /** The states of a watched statement: its cancel is first due, then under way. */
    private static final int WATCHING = 0, CANCEL_DUE = 1, CANCELLING = 2, ABANDONED = 3, DONE = 4;

    private static final class Watched {
        final Statement statement;
        /** When this watchdog acts next: the cancel, then the abort. */
        volatile long deadlineNanos;

        final AtomicInteger state = new AtomicInteger(WATCHING);
        /** Counted down once the server confirmed the cancel (or it could not be sent). */
        final CountDownLatch cancelConfirmed = new CountDownLatch(1);

        Watched(Statement statement, long deadlineNanos) {
            this.statement = statement;
            this.deadlineNanos = deadlineNanos;
        }
    }

    /** At most one statement per calling thread: each lock call runs one statement at a time. */
    private final Map<Thread, Watched> running = new ConcurrentHashMap<>();

    private final String label;
    private final Thread thread;
    private final ExecutorService cancels;
    private volatile boolean closed;
    private volatile boolean parkedIdle;

    StatementWatchdog(String label) {
        this.label = label;
        AtomicInteger cancelThreads = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(
                CANCEL_THREADS, CANCEL_THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
                    Thread t =
                            new Thread(r, "locking-postgres-cancel-" + label + "-" + cancelThreads.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        this.cancels = pool;
        thread = new Thread(this::run, "locking-postgres-timeouts-" + label);
        thread.setDaemon(true);
        thread.start();
    }

    /** Cancels {@code statement} if it still runs {@code timeoutMillis} from now; until {@link #done()}. */
    void watch(Statement statement, long timeoutMillis) {
        running.put(
                Thread.currentThread(),
                new Watched(statement, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis)));
        if (parkedIdle) LockSupport.unpark(thread);
    }

    /**
     * The calling thread's statement has finished (or failed): leave it alone.
     *
     * @return what this watchdog did to it; a statement cancelled otherwise ({@link
     *     Outcome#FINISHED} with SQL state 57014) was cancelled by the server (its own
     *     statement_timeout) or by someone else. {@link Outcome#ABANDONED}: its connection is
     *     aborted (also when the statement answered in the same instant), and must not be used again
     */
    Outcome done() {
        Watched w = running.remove(Thread.currentThread());
        // Finished in time, or before its cancel was sent: a cancel never sent cannot hit the
        // connection's next statement.
        if (w == null || w.state.compareAndSet(WATCHING, DONE) || w.state.compareAndSet(CANCEL_DUE, DONE))
            return Outcome.FINISHED;
        if (w.state.get() == CANCELLING) {
            // The connection serves again only once the server confirmed the cancel.
            long left = w.deadlineNanos - System.nanoTime();
            boolean confirmed = false;
            try {
                confirmed = w.cancelConfirmed.await(Math.max(0, left), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (confirmed && w.state.compareAndSet(CANCELLING, DONE)) return Outcome.CANCELLED;
            w.state.compareAndSet(CANCELLING, ABANDONED);
        }
        // Abandoned, by the watchdog or just now: the connection must be closed before the caller
        // gives it back to its pool (aborting twice is harmless).
        abort(w.statement);
        return Outcome.ABANDONED;
    }

    private void run() {
        long quietSince = System.nanoTime();
        while (!closed) {
            if (!running.isEmpty()) quietSince = System.nanoTime();
            else if (System.nanoTime() - quietSince > IDLE_NANOS) {
                // watch() puts, then reads parkedIdle; this writes parkedIdle, then reads the map:
                // one of the two sees the other, so a statement is never left unwatched.
                parkedIdle = true;
                if (running.isEmpty() && !closed) LockSupport.park(this);
                parkedIdle = false;
                quietSince = System.nanoTime();
                continue;
            }
            LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS));
            long now = System.nanoTime();
            for (Watched w : running.values()) {
                if (now - w.deadlineNanos < 0) continue;
                int state = w.state.get();
                if (state == WATCHING) {
                    w.deadlineNanos = now + TimeUnit.MILLISECONDS.toNanos(ABANDON_AFTER_CANCEL_MILLIS);
                    if (w.state.compareAndSet(WATCHING, CANCEL_DUE)) cancelLater(w);
                } else if ((state == CANCEL_DUE || state == CANCELLING) && w.state.compareAndSet(state, ABANDONED)) {
                    log.debug(
                            "{}: a statement did not answer its cancel within {} ms; aborting its connection",
                            label,
                            ABANDON_AFTER_CANCEL_MILLIS);
                    abort(w.statement);
                }
            }
        }
    }

    private void cancelLater(Watched w) {
        try {
            cancels.execute(() -> {
                try {
                    // Finished meanwhile, or abandoned (its connection aborted): nothing to cancel.
                    if (w.state.compareAndSet(CANCEL_DUE, CANCELLING)) cancel(w.statement);
                } finally {
                    w.cancelConfirmed.countDown();
                }
            });
        } catch (RuntimeException e) {
            // Closing: the abort still ends the statement.
            log.debug("{}: could not schedule a cancel: {}", label, e.toString());
        }
    }

    /**
     * Sends the server a cancel request for the statement's connection and waits for its
     * confirmation. Not {@link Statement#cancel()}: pgjdbc makes the statement wait for that one
     * to be confirmed before it returns, even once its connection is aborted.
     */
    private static void cancel(Statement statement) {
        try {
            Connection c = statement.getConnection();
            if (c.isWrapperFor(PGConnection.class)) c.unwrap(PGConnection.class).cancelQuery();
            else statement.cancel();
        } catch (SQLException | RuntimeException e) {
            // Closed or finished meanwhile: nothing left to cancel.
            log.debug("cancelling a statement past its timeout failed: {}", e.toString());
        }
    }

    /**
     * Closes the socket of the statement's connection at once, on this thread: pgjdbc's abort
     * closes it without a word to the server, so a call blocked reading from it fails now.
     */
    private static void abort(Statement statement) {
        try {
            Connection c = statement.getConnection();
            if (c.isWrapperFor(PGConnection.class)) c = (Connection) c.unwrap(PGConnection.class);
            c.abort(Runnable::run);
        } catch (SQLException | RuntimeException e) {
            log.debug("aborting the connection of a statement that ignored its cancel failed: {}", e.toString());
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        cancels.shutdownNow();
    }
}
