package dev.locking.postgres;

import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cancels the provider's statements that run past their query timeout.
 *
 * <p>pgjdbc's own query timeout schedules a task on its timer thread for every statement and wakes
 * that thread each time; measured on 2 cores, that costs about 0.05 ms per statement, some 10% of
 * an uncontended acquire + release (docs/design-notes.md). This one thread instead looks at the
 * statements in flight every {@link #TICK_MILLIS} while there are any, and parks while there are
 * none, so a call only puts itself in a map and takes itself out. A statement is cancelled at most
 * one tick late. The cancel is pgjdbc's {@link Statement#cancel()}, which does nothing once the
 * statement has finished, as its own timer does.
 */
final class StatementWatchdog implements AutoCloseable {
    static final long TICK_MILLIS = 10;
    /** With nothing in flight for this long, the thread parks until the next statement. */
    private static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static final Logger log = LoggerFactory.getLogger(StatementWatchdog.class);

    private record Watched(Statement statement, long deadlineNanos) {}

    /** At most one statement per calling thread: each lock call runs one statement at a time. */
    private final Map<Thread, Watched> running = new ConcurrentHashMap<>();

    private final Thread thread;
    private volatile boolean closed;
    private volatile boolean parkedIdle;

    StatementWatchdog(String label) {
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

    /** The calling thread's statement has finished (or failed): leave it alone. */
    void done() {
        running.remove(Thread.currentThread());
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
            for (Map.Entry<Thread, Watched> e : running.entrySet()) {
                Watched w = e.getValue();
                if (now - w.deadlineNanos() >= 0 && running.remove(e.getKey(), w)) cancel(w.statement());
            }
        }
    }

    private static void cancel(Statement statement) {
        try {
            statement.cancel();
        } catch (SQLException | RuntimeException e) {
            // Closed or finished meanwhile: nothing left to cancel.
            log.debug("cancelling a statement past its timeout failed: {}", e.toString());
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
    }
}
