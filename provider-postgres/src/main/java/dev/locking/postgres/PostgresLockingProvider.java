package dev.locking.postgres;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
import dev.locking.api.LockingException;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import dev.locking.spi.LockingProvider;
import dev.locking.spi.Printable;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Types;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.postgresql.PGConnection;
import org.postgresql.PGStatement;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;
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

    /**
     * The shortest lock wait of a call with a deadline, also of a caller that does not wait at all
     * (budget zero): contenders hold a key's advisory lock for microseconds, so a free key that is
     * only momentarily busy must still be granted "at once".
     */
    static final long LOCK_FLOOR_MILLIS = 50;

    /** Added to a caller's budget: its last attempt may end just after its deadline, not before. */
    static final long BUDGET_MARGIN_MILLIS = 5;

    /**
     * How much longer than its lock wait a call with a deadline may run on the server before it is
     * cancelled: the work after the locks are granted, on a loaded server.
     */
    static final long QUERY_SLACK_MILLIS = 250;

    /**
     * The shortest lock wait of a waiting caller's attempt near its deadline: short, since such a
     * caller is promised an answer within 250 ms of its deadline and a busy key only means it is not
     * its turn yet.
     */
    static final long WAITING_FLOOR_MILLIS = 20;

    /** As {@link #QUERY_SLACK_MILLIS}, for a waiting caller's attempt. */
    static final long WAITING_SLACK_MILLIS = 100;

    /**
     * The lock wait and the slack of a waiting caller's last attempt, made at its deadline: a last
     * look at whether the key came free, which must not make the caller late for its timeout.
     */
    static final long LAST_LOOK_FLOOR_MILLIS = 5;

    static final long LAST_LOOK_SLACK_MILLIS = 50;

    /** What the lock functions raise when a key's advisory lock wait timed out (SQL state 55P03). */
    private static final String KEY_LOCK_TIMEOUT = "dev.locking: lock timeout waiting for a key's advisory lock";

    private final String label;
    private final PostgresSettings settings;
    private final DataSource dataSource;
    private final HikariDataSource ownedPool;
    /** The statements, as they start out; {@link #sql} turns to the guarded ones once needed. */
    private final Statements plain;

    /**
     * The statements calls use now: {@link #plain}, or those that turn off the server's own
     * timeouts first, once the database or role turned out to set them (see {@link Statements#GUARD}).
     */
    private volatile Statements sql;

    private final NotificationListener listener;
    /** Where the LISTEN connection goes; null when waiters only poll. */
    private final ListenerTarget listenerTarget;

    private final String registrationId;
    private final StatementWatchdog timeouts;
    /** Takes waiters that gave up out of their queues, many in one statement. */
    private final QueueLeaver leaver;
    /** Removes expired locks and dead queue entries every cleanup-interval. */
    private final ExpiredRowCleaner cleaner;

    private final long statementTimeoutMillis;
    private final int lockTimeoutMillis;
    /** Waiters that may have a queue entry (a blocked attempt of theirs committed), until they leave it. */
    private final Set<String> queued = ConcurrentHashMap.newKeySet();

    private final AtomicBoolean closing = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean schemaWarned = new AtomicBoolean();
    /**
     * This provider instance, as the lock functions know it: a release hands a key over only to a
     * waiter parked in the same instance (see locking_release), which is alive by construction.
     */
    private final String processId = UUID.randomUUID().toString();

    /** Hands a grant a release made to a waiter parked in this process (core's ProviderContext). */
    private final BiPredicate<String, AcquireResult.Acquired> granted;

    PostgresLockingProvider(
            String registrationId,
            PostgresSettings settings,
            Optional<DataSource> handedIn,
            Consumer<String> keyReleased,
            BiPredicate<String, AcquireResult.Acquired> granted) {
        this.label = "lp_" + registrationId;
        this.registrationId = registrationId;
        this.settings = settings;
        this.plain = new Statements(settings.schema, settings.synchronousCommit, false);
        this.sql = plain;
        this.statementTimeoutMillis = Math.max(1000, settings.statementTimeout.toMillis());
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
        // After the pool (whose construction is what can still fail), before the first call.
        this.timeouts = new StatementWatchdog(label);
        this.leaver = new QueueLeaver(
                label, this::leaveQueues, settings.pollInterval.toMillis(), settings.waiterExpiry.toString());
        this.cleaner = new ExpiredRowCleaner(label, settings.cleanupInterval, this::cleanUp);
        this.granted = granted;
        this.listenerTarget =
                settings.notifications == PostgresSettings.Notifications.LISTEN ? listenerTarget(handedIn) : null;
        if (listenerTarget != null) {
            this.listener = new NotificationListener(
                    label,
                    Map.of(settings.channel(), keyReleased),
                    listenerConnections(listenerTarget, registrationId),
                    this::checkSchema);
            listener.start();
        } else {
            this.listener = null;
            if (settings.notifications == PostgresSettings.Notifications.LISTEN)
                log.warn(
                        "{}: cannot tell how the application's DataSource ({}) connects, so no LISTEN connection of"
                                + " its own can be opened: waiters poll every {} ms. Set listen-url to a direct URL of"
                                + " the database (same user and password options) for wake-ups by notification, or"
                                + " notifications = poll to say so",
                        label,
                        handedIn.map(ds -> ds.getClass().getName()).orElse("none"),
                        settings.pollInterval.toMillis());
            Thread check = new Thread(this::checkSchema, "locking-postgres-schema-check-" + label);
            check.setDaemon(true);
            check.start();
        }
        String incompatible = PostgresMigrations.incompatibility(PostgresMigrations.class.getClassLoader());
        if (incompatible != null)
            log.warn("{}: migrate cannot run: {}. Locking itself does not need Flyway and works.", label, incompatible);
        log.info("{}: PostgreSQL locks in schema {} of {}, notifications {}", label, settings.schema, where(), mode());
    }

    @Override
    public AcquireResult tryAcquire(AcquireRequest request) {
        List<String> keys = request.keys();
        String waiterId = request.waiterId();
        // Stored with each key taken free: a retry after a lost reply finds its own grant instead
        // of "held", and undo frees by it what the call took when its caller never learnt of it.
        String grant = request.grantId();
        // A caller with time to wait (its first attempt comes without a waiter id) is bounded as a
        // waiting one: nothing of its attempt may run past its deadline by more than the slack.
        boolean waiting = waiterId != null
                || (request.budget() != null && !request.budget().isZero());
        Bounds bounds = bounds(request.budget(), waiting);
        // A waiter's first attempt with its id that comes at or past its deadline follows a first
        // attempt that took the caller's whole budget (a storm, a busy pool): it was never queued,
        // and one more round trip would only make it later. It has timed out.
        if (waiterId != null && request.budget() != null && request.budget().isZero() && !queued.contains(waiterId))
            return new AcquireResult.Blocked(keys.get(0), null, null);
        // Waiters of this process that just gave up may still hold places that reserve these keys:
        // a caller that does not wait lets them go first (a waiting one is woken when they have).
        if (!waiting) leaver.awaitIdle(QueueLeaver.WAIT_MILLIS * 4);
        try {
            AcquireResult result = call("acquire " + describe(keys), bounds, (c, limits) -> {
                try (PreparedStatement ps = prepare(c, limits.sql().tryAcquire)) {
                    ps.setArray(1, textArray(c, keys));
                    ps.setString(2, request.owner());
                    setMillis(ps, 3, request.lease());
                    ps.setString(4, waiterId);
                    ps.setString(5, grant);
                    ps.setLong(6, settings.waiterExpiry.toMillis());
                    ps.setInt(7, limits.lockMillis());
                    ps.setString(8, processId);
                    try (ResultSet rs = query(ps, limits)) {
                        rs.next();
                        return readAcquire(rs, keys);
                    }
                }
            });
            // A blocked waiter is enqueued by the same statement; a granted one leaves every queue.
            if (waiterId != null) {
                if (result instanceof AcquireResult.Blocked) queued.add(waiterId);
                else queued.remove(waiterId);
            }
            return result;
        } catch (LockingException e) {
            // Whatever failed, an earlier attempt of this call (a retry after a lost reply) may have
            // queued the waiter: leaveQueue must run for it.
            if (waiterId != null) queued.add(waiterId);
            // Another call on a key (or an application advisory lock sharing its hash) held it past
            // this call's lock wait: the key is busy right now. Nothing was written (the statement
            // rolled back), and a waiting caller simply tries again.
            if (e.getCause() instanceof SQLException s && "55P03".equals(s.getSQLState()))
                return new AcquireResult.Blocked(busyKey(s, keys), null, null);
            // Every connection of the pool stayed in use while this call could wait, and no
            // connection attempt failed: the store is busy (or its calls are stuck). A caller that
            // waits keeps waiting, as for a busy key, until its own timeout, and then times out:
            // that the store was too busy for it is the warning's to say, not an error of its own.
            if (poolSaturated(e.getCause())
                    && (waiting || request.budget() == null || !request.budget().isZero())) {
                if (opened) warnSaturated();
                return new AcquireResult.Blocked(keys.get(0), SATURATED_RETRY, null);
            }
            // A waiting caller's attempt cancelled at its deadline (waiting for a busy key's lock,
            // or on a slow server): it did not get the key in time, which is a timeout.
            if (waiting
                    && e.getCause() instanceof SQLException s
                    && "57014".equals(s.getSQLState())
                    && bounds.leftMillis() <= 0) return new AcquireResult.Blocked(keys.get(0), null, null);
            throw e;
        }
    }

    /** How soon a waiting caller tries again after finding every pooled connection in use. */
    private static final Duration SATURATED_RETRY = Duration.ofMillis(20);

    private static final long SATURATED_WARN_NANOS = TimeUnit.SECONDS.toNanos(10);
    private final AtomicLong saturatedWarnedAt = new AtomicLong(System.nanoTime() - SATURATED_WARN_NANOS);

    /**
     * True when {@code e} says no connection could be borrowed because all were in use: HikariCP's
     * timeout exception carries the last connection failure as its cause, so one without a cause
     * means no connection failed.
     */
    private static boolean poolSaturated(Throwable e) {
        return e instanceof SQLTransientConnectionException && e.getCause() == null;
    }

    private void warnSaturated() {
        long last = saturatedWarnedAt.get();
        long now = System.nanoTime();
        if (now - last >= SATURATED_WARN_NANOS && saturatedWarnedAt.compareAndSet(last, now))
            log.warn(
                    "{}: every pooled connection stayed in use for the pool's connectionTimeout; waiting"
                            + " callers keep waiting until their timeout. If this persists, raise"
                            + " pool.maximumPoolSize (or the handed-in DataSource's pool size), or look for"
                            + " calls stuck on a slow database or network",
                    label);
    }

    /**
     * The key whose advisory lock timed out, which the lock functions name. A lock timeout on a row
     * lock names none and is reported on the first key, the only one that can be named then: for a
     * multi-key call that may not be the busy one.
     */
    private String busyKey(SQLException e, List<String> keys) {
        if (e instanceof PSQLException p) {
            ServerErrorMessage m = p.getServerErrorMessage();
            if (m != null && KEY_LOCK_TIMEOUT.equals(m.getMessage()) && keys.contains(m.getDetail()))
                return m.getDetail();
        }
        return keys.get(0);
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
        Released released = call("release " + describe(keys), Bounds.NONE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, limits.sql().release)) {
                ps.setArray(1, textArray(c, keys));
                ps.setString(2, owner);
                ps.setInt(3, limits.lockMillis());
                ps.setBoolean(4, settings.synchronousCommit == PostgresSettings.SynchronousCommit.GRANTS);
                ps.setString(5, processId);
                return readRelease(single(ps, limits), keys);
            }
        });
        // The release has committed, its grant included: the waiter, parked in this process, runs
        // now.
        if (released.handedTo() != null && granted.test(released.handedTo(), released.grant()))
            queued.remove(released.handedTo());
        return released.released();
    }

    /**
     * What a release did: whether it freed the key, and the waiter it handed the key to, with that
     * grant; both null when it handed nothing over.
     */
    private record Released(boolean released, String handedTo, AcquireResult.Acquired grant) {}

    private static Released readRelease(ResultSet rs, List<String> keys) throws SQLException {
        boolean released = rs.getBoolean("released");
        String handedTo = rs.getString("handed_to");
        if (handedTo == null || keys.size() != 1) return new Released(released, null, null);
        long token = rs.getLong("handed_token");
        OffsetDateTime expires = rs.getObject("handed_expires_at", OffsetDateTime.class);
        return new Released(
                released, handedTo, new AcquireResult.Acquired(Map.of(keys.get(0), token), expires.toInstant()));
    }

    @Override
    public int releaseAll(String owner) {
        return call(
                "releaseAll of " + (owner == null ? "anonymous locks" : "owner \"" + Printable.escape(owner) + "\""),
                Bounds.NONE,
                (c, limits) -> {
                    try (PreparedStatement ps = prepare(c, limits.sql().releaseAll)) {
                        ps.setString(1, owner);
                        return single(ps, limits).getInt(1);
                    }
                });
    }

    /**
     * Frees what the call {@code grantId} took and its caller never learnt of: each key the call
     * took while it was free and no other call of {@code owner} re-entered since (the row names the
     * call, see locking_undo). Idempotent; every key it frees is announced on the channel, as a
     * release announces it, so waiters everywhere try again.
     */
    @Override
    public void undo(List<String> keys, String owner, String grantId) {
        call("undo of a failed call on " + describe(keys), Bounds.NONE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, limits.sql().undo)) {
                ps.setArray(1, textArray(c, keys));
                ps.setString(2, owner);
                ps.setString(3, grantId);
                ps.setInt(4, limits.lockMillis());
                return single(ps, limits).getInt(1);
            }
        });
    }

    @Override
    public boolean renew(List<String> keys, String owner, Duration lease) {
        return renew(keys, owner, lease, Bounds.NONE);
    }

    /**
     * A renewal bounded by the rest of the lease it protects: past {@code budget} core counts the
     * lease lost whatever the answer, so the renewal waits for a connection, and for the keys, no
     * longer than that (at least {@link #LOCK_FLOOR_MILLIS}), and its statement is cancelled {@link
     * #QUERY_SLACK_MILLIS} later, which frees the worker for the next renewal.
     */
    @Override
    public boolean renew(List<String> keys, String owner, Duration lease, Duration budget) {
        return renew(keys, owner, lease, bounds(budget, false));
    }

    private boolean renew(List<String> keys, String owner, Duration lease, Bounds bounds) {
        return call("renew " + describe(keys), bounds, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, limits.sql().renew)) {
                ps.setArray(1, textArray(c, keys));
                ps.setString(2, owner);
                setMillis(ps, 3, lease);
                ps.setInt(4, limits.lockMillis());
                return single(ps, limits).getBoolean(1);
            }
        });
    }

    @Override
    public void leaveQueue(List<String> keys, String waiterId) {
        // Only a waiter whose blocked attempt committed has entries; the others (every attempt
        // timed out on a busy key) have nothing to remove, and must not wait on that key again.
        if (!queued.remove(waiterId)) return;
        leaver.leave(keys, waiterId);
    }

    /**
     * Removes up to {@code batch} expired lock rows, as many dead queue entries, and as many records
     * of undone calls older than a day (see locking_undone); the largest of the three counts. A
     * queue entry without a staleness of its own (a waiter for several keys) counts as dead after
     * ten times waiter-expiry, at least a minute: another registration on the schema may have a
     * longer waiter-expiry.
     */
    private int cleanUp(int batch) {
        long staleMillis = Math.max(settings.waiterExpiry.multipliedBy(10).toMillis(), 60_000);
        return call("remove expired locks", Bounds.NONE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, plain.cleanup)) {
                ps.setInt(1, batch);
                ps.setLong(2, staleMillis);
                ps.setInt(3, batch);
                ps.setInt(4, batch);
                try (ResultSet rs = timed(ps, limits, PreparedStatement::executeQuery)) {
                    rs.next();
                    return Math.max(Math.max(rs.getInt(1), rs.getInt(2)), rs.getInt(3));
                }
            }
        });
    }

    /** One statement takes every waiter of {@code waiterIds} out of the queues of {@code keys}. */
    private void leaveQueues(List<String> keys, List<String> waiterIds) {
        call("leave the queues of " + waiterIds.size() + " waiters on " + describe(keys), Bounds.NONE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, limits.sql().leaveQueue)) {
                ps.setArray(1, textArray(c, keys));
                ps.setArray(2, textArray(c, waiterIds));
                ps.setInt(3, limits.lockMillis());
                single(ps, limits);
                return null;
            }
        });
    }

    /** One statement keeps every waiter parked in this process in line, whatever their number. */
    @Override
    public boolean refreshWaiters(Map<String, List<String>> keysByWaiterId) {
        if (keysByWaiterId.isEmpty()) return true;
        call(
                "refresh " + keysByWaiterId.size() + " parked waiters",
                within(settings.pollInterval.toMillis()),
                (c, limits) -> {
                    try (PreparedStatement ps = prepare(c, sql.refreshWaiters)) {
                        ps.setArray(1, textArray(c, List.copyOf(keysByWaiterId.keySet())));
                        timed(ps, limits, PreparedStatement::executeUpdate);
                        return null;
                    }
                });
        return true;
    }

    @Override
    public Optional<List<HeldLock>> list(String owner, int limit) {
        return Optional.of(call("list locks", Bounds.NONE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, sql.list)) {
                ps.setString(1, owner);
                ps.setBoolean(2, owner == null);
                ps.setInt(3, limit);
                List<HeldLock> held = new ArrayList<>();
                try (ResultSet rs = timed(ps, limits, PreparedStatement::executeQuery)) {
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
        String prefix =
                label + " (locking-postgres): migrating schema \"" + settings.schema + "\" of " + where() + " failed: ";
        String incompatible = PostgresMigrations.incompatibility(PostgresMigrations.class.getClassLoader());
        if (incompatible != null) throw new LockingException(prefix + incompatible + ".");
        try {
            List<String> applied;
            if (ownedPool == null) applied = PostgresMigrations.migrate(dataSource, settings.schema);
            else
                try (HikariDataSource once = new HikariDataSource(settings.migrationConfig(registrationId))) {
                    applied = PostgresMigrations.migrate(once, settings.schema);
                }
            applied.forEach(line -> log.info("{}: applied {}", label, line));
            return applied;
        } catch (FlywayException e) {
            throw new LockingException(
                    prefix + migrationProblem(e) + ". Check that the user may create tables and"
                            + " functions in that schema, then run migrate again.",
                    e);
        } catch (LinkageError e) {
            // A Flyway whose own dependencies (Jackson, its database support) are at versions it was
            // not built for: say which, instead of letting the error escape from deep inside Flyway.
            throw new LockingException(
                    prefix + "Flyway " + PostgresMigrations.version(Flyway.class.getClassLoader(), "flyway-core")
                            + " could not run (" + e + "): one of its dependencies on the class path is at a"
                            + " version it was not built for. Align them with the versions Flyway declares (its"
                            + " Jackson, flyway-database-postgresql), then run migrate again.",
                    e);
        }
    }

    /**
     * Flyway's message in one line: its headline (which migration failed) and the database's own
     * error with its SQL state, without Flyway's multi-line report (the whole report stays in the
     * chained cause). Any password in a URL it quotes is masked.
     */
    static String migrationProblem(FlywayException e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        List<String> lines = message.lines()
                .map(String::strip)
                .filter(l -> !l.isEmpty() && !l.matches("-+"))
                .toList();
        String headline = lines.isEmpty() ? e.getClass().getSimpleName() : lines.get(0);
        SQLException sqlCause = null;
        for (Throwable t = e.getCause(); t != null && sqlCause == null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof SQLException s) sqlCause = s;
        String line;
        if (sqlCause != null) {
            // The database's error says what is wrong; Flyway's report around it says where.
            String db = sqlCause.getMessage() == null
                    ? ""
                    : sqlCause.getMessage().strip().lines().findFirst().orElse("");
            line = headline
                    + (db.isEmpty() || headline.contains(db) ? "" : ": " + db)
                    + (sqlCause.getSQLState() == null ? "" : " (SQL state " + sqlCause.getSQLState() + ")");
        } else {
            line = String.join("; ", lines);
        }
        return PostgresSettings.redact(line.replaceAll("\\s+", " ").replaceAll("[.:;]+$", ""));
    }

    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) return;
        if (listener != null) listener.close();
        leaver.close(); // its last batch still runs, on the pool
        cleaner.close();
        closed.set(true);
        if (ownedPool != null) ownedPool.close();
        timeouts.close();
    }

    @Override
    public String toString() {
        return "PostgresLockingProvider{" + label + ", " + where() + ", schema=" + settings.schema + ", notifications="
                + mode() + "}";
    }

    /**
     * Session mode's waiters share this provider's queue: one that joined a queue ({@code true}) must
     * leave it when it gives up; one granted ({@code false}) has left every queue.
     */
    void queuedWaiter(String waiterId, boolean queued) {
        if (queued) this.queued.add(waiterId);
        else this.queued.remove(waiterId);
    }

    /** True while the LISTEN connection is up (tests, diagnostics). */
    boolean listening() {
        return listener != null && listener.listening();
    }

    /** True once the listener stopped because its connection goes through a transaction-mode pooler. */
    boolean listenerStoppedBehindPooler() {
        return listener != null && listener.stoppedBehindPooler();
    }

    // ---------------------------------------------------------------------------------------------

    @FunctionalInterface
    private interface SqlCall<T> {
        T run(Connection connection, Limits limits) throws SQLException;
    }

    /** A call without a deadline: bounded by lock-timeout and statement-timeout only. */
    private static final long NO_DEADLINE = Long.MAX_VALUE;

    /**
     * How long a call may take.
     *
     * @param deadline when it must give up ({@link System#nanoTime()}), or {@link #NO_DEADLINE}
     * @param floorMillis the least it waits for a key's advisory lock or a connection, also at its
     *     deadline
     * @param slackMillis how long its statement may run past its lock wait
     * @param waiting a waiting caller's attempt: it waits for a connection only until its deadline
     *     (a caller that does not wait may take the slack as well), and running out of time is, for
     *     it, the key's being busy
     */
    record Bounds(long deadline, long floorMillis, long slackMillis, boolean waiting) {
        static final Bounds NONE = new Bounds(NO_DEADLINE, 0, 0, false);

        boolean none() {
            return deadline == NO_DEADLINE;
        }

        long leftMillis() {
            return TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        }
    }

    /**
     * What one attempt of a call may take.
     *
     * @param lockMillis the longest wait for the keys' advisory locks (the functions' lock timeout)
     * @param queryMillis the query timeout: past it the statement is cancelled
     */
    record Limits(int lockMillis, long queryMillis, Statements sql) {}

    /**
     * The bounds of an attempt for a caller with {@code budget} left: the budget plus a margin; a
     * caller that does not wait (or not yet) gets at least {@link #LOCK_FLOOR_MILLIS} and {@link
     * #QUERY_SLACK_MILLIS}, a waiting one ({@code waiting}) {@link #WAITING_FLOOR_MILLIS} and
     * {@link #WAITING_SLACK_MILLIS}. {@link Bounds#NONE} for no budget.
     */
    static Bounds bounds(Duration budget, boolean waiting) {
        if (budget == null) return Bounds.NONE;
        long millis =
                budget.compareTo(Duration.ofDays(1)) > 0 ? Duration.ofDays(1).toMillis() : ceilMillis(budget);
        boolean lastLook = waiting && budget.isZero();
        long floor = lastLook ? LAST_LOOK_FLOOR_MILLIS : waiting ? WAITING_FLOOR_MILLIS : LOCK_FLOOR_MILLIS;
        long slack = lastLook ? LAST_LOOK_SLACK_MILLIS : waiting ? WAITING_SLACK_MILLIS : QUERY_SLACK_MILLIS;
        return new Bounds(
                System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(floor, millis + BUDGET_MARGIN_MILLIS)),
                floor,
                slack,
                waiting);
    }

    /** The bounds of a call that must be over within {@code millis} from now, at least. */
    static Bounds within(long millis) {
        return new Bounds(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis), millis, QUERY_SLACK_MILLIS, false);
    }

    /**
     * The limits of an attempt starting now: the configured ones, shrunk to what is left before the
     * deadline (the lock wait) and the slack after it (the whole statement), so that no attempt,
     * first or retried, runs on past that.
     */
    Limits limits(Bounds bounds) {
        if (bounds.none()) return new Limits(lockTimeoutMillis, statementTimeoutMillis, sql);
        // Every attempt, a retry too, keeps the floor: a caller that does not wait must still get
        // an answer from a healthy server, not a statement cancelled before it could run. A
        // waiting caller's lock wait ends its slack before the deadline, so that even a statement
        // cancelled late (a loaded server answers a cancel slowly) returns near the deadline.
        long left = Math.max(bounds.floorMillis(), bounds.leftMillis() - (bounds.waiting() ? bounds.slackMillis() : 0));
        int lock = (int) Math.min(lockTimeoutMillis, left);
        return new Limits(lock, Math.min(statementTimeoutMillis, lock + bounds.slackMillis()), sql);
    }

    private <T> T call(String what, Bounds bounds, SqlCall<T> body) {
        if (closed.get()) throw new IllegalStateException(label + " is closed");
        // A try whose statement may have run before its connection broke: the call's outcome is
        // unknown whatever a retry says (see mayHaveTaken).
        SQLException unsure = null;
        for (int attempt = 1; ; attempt++) {
            Connection connection;
            try {
                connection = borrow(what, bounds);
            } catch (LockingException e) {
                if (unsure != null) e.addSuppressed(unsure);
                throw e;
            }
            Limits limits = limits(bounds);
            try {
                return runOn(connection, c -> body.run(c, limits));
            } catch (SQLException e) {
                // A retry never starts past the bound of the caller's deadline: a dead connection
                // fails at once, so a retry on a fresh one fits unless connecting is slow.
                boolean timeLeft = bounds.none() || bounds.leftMillis() + bounds.slackMillis() > 0;
                if (attempt >= ATTEMPTS || !retryable(e) || !timeLeft) {
                    LockingException failure = failure(what, e, limits, bounds);
                    if (unsure != null) failure.addSuppressed(unsure);
                    throw failure;
                }
                if (!answeredByServer(e)) unsure = e;
                // Killed backends and restarted servers leave dead connections in the pool; they
                // fail before the statement ran, so trying again on a fresh one is safe.
                log.debug(
                        "{}: {} failed on a dead connection ({}); trying a fresh one",
                        label,
                        what,
                        Printable.escape(e.toString()));
                if (ownedPool != null) ownedPool.getHikariPoolMXBean().softEvictConnections();
            }
        }
    }

    @FunctionalInterface
    private interface OnConnection<T> {
        T run(Connection connection) throws SQLException;
    }

    private <T> T runOn(Connection connection, OnConnection<T> body) throws SQLException {
        try (connection) {
            // An application DataSource may hand out connections with auto-commit off; the lock
            // functions must still commit at once, or they would hold their advisory locks.
            boolean manual = !connection.getAutoCommit();
            try {
                T result = body.run(connection);
                if (manual) connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                // A connection the watchdog aborted is closed: the pool must not hand it out again.
                if (e instanceof Abandoned && dataSource instanceof HikariDataSource hikari)
                    hikari.evictConnection(connection);
                else if (manual) rollbackQuietly(connection);
                throw e;
            }
        }
    }

    /**
     * A pooled connection. A call with a deadline waits for one of a HikariCP pool (the provider's
     * own, or a handed-in {@link HikariDataSource}) until its deadline (at least its floor), a caller
     * that does not wait also for the slack its statement would have, when that is shorter than the
     * pool's {@code connectionTimeout}; any other call, or another pool, waits the pool's own
     * timeout. While the pool has no connection open (before its first, or after a database restart)
     * every call waits up to the pool's {@code connectionTimeout} too: a cold JVM on a busy host takes
     * longer than a caller that does not wait would allow to open one, and the call must not fail for
     * that.
     */
    private Connection borrow(String what, Bounds bounds) {
        try {
            return borrowOrFail(what, bounds);
        } catch (LockingException e) {
            throw new NoConnection(e);
        }
    }

    /**
     * A call that could not have a connection: nothing of it reached the server (unless an earlier
     * try of the same call did, added to it as a suppressed exception).
     */
    private static final class NoConnection extends LockingException {
        private static final long serialVersionUID = 1L;

        NoConnection(LockingException e) {
            super(e.getMessage(), e.getCause());
        }
    }

    /**
     * True when the server answered {@code e} as an error: it rolled the statement back, so the
     * statement took nothing (a connection that broke, or a statement abandoned unanswered, may
     * have acted).
     */
    private static boolean answeredByServer(SQLException e) {
        return !(e instanceof Abandoned)
                && e.getSQLState() != null
                && !e.getSQLState().isEmpty()
                && !connectionLost(e);
    }

    @Override
    public boolean mayHaveTaken(RuntimeException failure) {
        if (failure.getSuppressed().length > 0) return true;
        if (failure instanceof NoConnection) return false;
        return !(failure.getCause() instanceof SQLException e && answeredByServer(e));
    }

    private Connection borrowOrFail(String what, Bounds bounds) {
        long waitMillis = 0;
        HikariPool pool = hikariPool();
        // No connection open (a cold start, or all lost in a database restart): opening one may take
        // longer than a caller that does not wait would allow.
        boolean opening = pool != null && pool.getTotalConnections() == 0;
        try {
            Connection c = null;
            if (pool != null && !bounds.none() && !opening) {
                // A waiting caller at its deadline takes a free connection or none: callers of a
                // storm all reach their deadlines together, and would queue for the pool past them.
                waitMillis = bounds.waiting()
                        ? Math.max(0, bounds.leftMillis())
                        : Math.max(bounds.floorMillis(), bounds.leftMillis()) + bounds.slackMillis();
                if (waitMillis < ((HikariDataSource) dataSource).getConnectionTimeout())
                    c = pool.getConnection(waitMillis);
                else waitMillis = 0;
            }
            if (c == null) c = dataSource.getConnection();
            opened = true;
            return c;
        } catch (SQLException e) {
            if (poolSaturated(e) && opening)
                throw new LockingException(
                        label + " (locking-postgres): " + what + " failed: the pool, which had no connection"
                                + " open, could not open one to " + where() + " within its connectionTimeout ("
                                + ((HikariDataSource) dataSource).getConnectionTimeout() + " ms; "
                                + PostgresErrors.serverText(e)
                                + "), and no attempt failed: connecting is slow (a busy host or database, the"
                                + " network). Raise pool.connectionTimeout if this host is that slow; the call can be"
                                + " retried.",
                        e);
            if (poolSaturated(e))
                throw new LockingException(
                        label + " (locking-postgres): " + what + " failed: every connection of the pool stayed in"
                                + " use for "
                                + (waitMillis > 0
                                        ? "the " + waitMillis + " ms the call could wait"
                                        : "its connectionTimeout")
                                + " (" + PostgresErrors.serverText(e) + ") and no connection"
                                + " attempt failed: the pool is too small for the load (raise"
                                + " pool.maximumPoolSize, or the handed-in DataSource's size), or the calls holding"
                                + " its connections are stuck (a slow or hung database, the network); the call can"
                                + " be retried.",
                        e);
            SQLException refusal = PostgresErrors.refusal(e);
            if (refusal != null)
                throw new LockingException(
                        label + " (locking-postgres): " + what + " failed: no connection to " + where() + ": "
                                + PostgresErrors.explain(refusal),
                        e);
            String cause = PostgresErrors.serverText(e);
            String advice = "Check that PostgreSQL is running and reachable and that url, user and password are right";
            throw new LockingException(
                    label + " (locking-postgres): " + what + " failed: no connection to " + where() + " (" + cause
                            + "). " + advice + "; the call can be retried.",
                    e);
        }
    }

    /** Set once a connection was borrowed: the pool has opened, and calls wait only within their deadline. */
    private volatile boolean opened;

    /** The HikariCP pool behind {@link #dataSource}, or null (another pool, not started, or closed). */
    private HikariPool hikariPool() {
        return dataSource instanceof HikariDataSource hikari
                        && !hikari.isClosed()
                        && hikari.getHikariPoolMXBean() instanceof HikariPool pool
                ? pool
                : null;
    }

    private PreparedStatement prepare(Connection c, String statement) throws SQLException {
        PreparedStatement ps = c.prepareStatement(statement);
        // Named server-side statements (parsed and planned once per connection: about a third of
        // an uncontended call's server time, see docs/design-notes.md) on a server session of our
        // own; unnamed ones behind a pooler, where a named statement may not exist on the server
        // session the next transaction lands on.
        if (ps.isWrapperFor(PGStatement.class))
            ps.unwrap(PGStatement.class).setPrepareThreshold(directSession(c) ? 1 : 0);
        // Its execution is cancelled near the caller's deadline, or at statement-timeout, by the
        // watchdog (see query), which costs less per statement than the driver's own timer.
        return ps;
    }

    /** Whether the pool's connections are server sessions of their own; null until the first call. */
    private volatile Boolean direct;

    /** Whether calls use named server-side statements: null until the first call has found out. */
    Boolean serverPrepared() {
        return direct;
    }

    /**
     * True when {@code c} is a server session of its own, not a session a pooler (PgBouncer) shares
     * between clients: a pooler hands out cancel keys of its own, so the backend pid in the
     * connection's cancel key is the server's {@code pg_backend_pid()} only on a direct connection.
     * Checked on the first call; every connection of a pool goes the same way.
     */
    private boolean directSession(Connection c) throws SQLException {
        Boolean known = direct;
        if (known != null) return known;
        boolean isDirect = c.isWrapperFor(PGConnection.class)
                && c.unwrap(PGConnection.class).getBackendPID() == NotificationListener.backendPid(c);
        if (!isDirect)
            log.info(
                    "{}: connections go through a connection pooler; statements are not prepared on the server", label);
        direct = isDirect;
        return isDirect;
    }

    private ResultSet single(PreparedStatement ps, Limits limits) throws SQLException {
        ResultSet rs = query(ps, limits);
        rs.next();
        return rs;
    }

    /**
     * Runs {@code ps}, cancelled by the watchdog if it runs past the attempt's query timeout. Only
     * the execution is timed: the rows are in hand when it returns (reading them may still ask the
     * server about a type once per connection, which must not be cancelled by a late tick).
     */
    private ResultSet query(PreparedStatement ps, Limits limits) throws SQLException {
        if (!limits.sql().guarded) return timed(ps, limits, PreparedStatement::executeQuery);
        return timed(ps, limits, p -> {
            p.execute(); // the guard's result first
            p.getMoreResults();
            return p.getResultSet();
        });
    }

    @FunctionalInterface
    private interface Execution<T> {
        T run(PreparedStatement ps) throws SQLException;
    }

    private <T> T timed(PreparedStatement ps, Limits limits, Execution<T> execution) throws SQLException {
        timeouts.watch(ps, limits.queryMillis());
        StatementWatchdog.Outcome outcome = null;
        try {
            T result = execution.run(ps);
            outcome = timeouts.done();
            // Answered in the very instant its connection was given up: the connection is closed.
            if (outcome == StatementWatchdog.Outcome.ABANDONED) throw new Abandoned(limits.queryMillis(), null);
            return result;
        } catch (Abandoned e) {
            throw e;
        } catch (SQLException e) {
            if (outcome == null) outcome = timeouts.done();
            // Neither an answer nor the cancel's: the connection was dropped, the effect is unknown.
            if (outcome == StatementWatchdog.Outcome.ABANDONED) throw new Abandoned(limits.queryMillis(), e);
            // Cancelled, and not by the watchdog: the server's own statement_timeout, set on the
            // database or role. From now on every call turns it off first; this one is retried
            // (a cancelled statement changed nothing).
            if ("57014".equals(e.getSQLState())
                    && outcome != StatementWatchdog.Outcome.CANCELLED
                    && !limits.sql().guarded) {
                guardAgainstServerTimeouts("a call was cancelled by the server, not by the provider");
                throw new CancelledByServerTimeout(e);
            }
            throw e;
        } finally {
            if (outcome == null) timeouts.done();
        }
    }

    /** A statement the server cancelled on a timeout of its own configuration; retried guarded. */
    private static final class CancelledByServerTimeout extends SQLException {
        private static final long serialVersionUID = 1L;

        CancelledByServerTimeout(SQLException cause) {
            super(cause.getMessage(), cause.getSQLState(), cause);
        }
    }

    /**
     * A statement that answered neither in its time nor to its cancel, whose connection the
     * watchdog aborted (see {@link StatementWatchdog}): a lost connection (SQL state 08006), whose
     * statement may or may not have taken effect on the server.
     */
    private static final class Abandoned extends SQLException {
        private static final long serialVersionUID = 1L;
        final long queryMillis;

        Abandoned(long queryMillis, SQLException cause) {
            super(
                    "no answer within " + queryMillis + " ms, nor to the cancel request within "
                            + StatementWatchdog.ABANDON_AFTER_CANCEL_MILLIS + " ms",
                    "08006",
                    cause);
            this.queryMillis = queryMillis;
        }
    }

    /** Switches every later call to the statements that turn off the server's own timeouts, once. */
    private void guardAgainstServerTimeouts(String why) {
        if (sql.guarded) return;
        sql = new Statements(settings.schema, settings.synchronousCommit, true);
        log.info(
                "{}: {}: the database or role sets statement_timeout or idle_in_transaction_session_timeout,"
                        + " which would cancel waiting calls; each call now turns them off for its own transaction"
                        + " (the provider bounds its calls itself: statement-timeout, lock-timeout)",
                label,
                why);
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

    private static boolean retryable(SQLException e) {
        String state = e.getSQLState();
        return connectionLost(e)
                || e instanceof CancelledByServerTimeout
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

    private LockingException failure(String what, SQLException e, Limits limits, Bounds bounds) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String prefix = label + " (locking-postgres): " + what + " failed: ";
        if (e instanceof Abandoned a)
            return new LockingException(
                    prefix + "PostgreSQL at " + where() + " answered neither within " + a.queryMillis + " ms nor"
                            + " to the cancel request, so the connection was dropped: a half-open connection (a"
                            + " network partition, a firewall that drops packets) or a hung database host. Whether"
                            + " the call took effect is unknown; a failed acquire is undone in the background. The"
                            + " call can be retried; see docs/postgres.md#no-answer",
                    e);
        if (PostgresErrors.explain(e) != null) return new LockingException(prefix + PostgresErrors.explain(e), e);
        switch (state) {
            case "42883", "42P01", "3F000" -> {
                return new LockingException(
                        prefix + "the locking schema \"" + settings.schema + "\" is not migrated ("
                                + PostgresErrors.serverText(e)
                                + "). Run the migrations once against this database: LockingModule.migrate()"
                                + " from the application, or `locking migrate` from the command line.",
                        e);
            }
            case "57014" -> {
                if (!bounds.none() && limits.queryMillis() < statementTimeoutMillis)
                    return new LockingException(
                            prefix + "cancelled after " + limits.queryMillis() + " ms, the time left before the"
                                    + " caller's timeout. The database is overloaded or hung; the call can be retried.",
                            e);
                return new LockingException(
                        prefix + "cancelled after statement-timeout (" + settings.statementTimeout + "). The database"
                                + " is overloaded or hung; the call can be retried.",
                        e);
            }
            case "55P03" -> {
                return new LockingException(
                        prefix + "another call on the same keys held them longer than this call's lock wait ("
                                + limits.lockMillis() + " ms; lock-timeout is " + settings.lockTimeout + "). The"
                                + " database is overloaded, or an unrelated advisory lock of the application shares"
                                + " a hash with a key; the call can be retried.",
                        e);
            }
            case "25000" -> {
                return new LockingException(prefix + PostgresErrors.serverText(e), e);
            }
            default -> {
                String next = connectionLost(e)
                        ? " Check that PostgreSQL at " + where() + " is running; the call can be retried."
                        : " This is unexpected: please report it with the SQL state.";
                return new LockingException(
                        prefix + PostgresErrors.serverText(e) + " (SQL state " + (state.isEmpty() ? "none" : state)
                                + ")." + next,
                        e);
            }
        }
    }

    /**
     * Looks at the database once connected: warns when the schema is visibly not migrated (calls
     * would fail with the same advice), and turns on the guard against the server's own timeouts
     * when the database or role sets them.
     */
    private void checkSchema() {
        if (closed.get()) return;
        try (Connection c = dataSource.getConnection()) {
            Limits limits = limits(Bounds.NONE);
            if (!sql.guarded)
                try (PreparedStatement ps = prepare(c, plain.serverTimeouts);
                        ResultSet rs = timed(ps, limits, PreparedStatement::executeQuery)) {
                    if (rs.next() && (!"0".equals(rs.getString(1)) || !"0".equals(rs.getString(2))))
                        guardAgainstServerTimeouts("statement_timeout is " + rs.getString(1)
                                + " and idle_in_transaction_session_timeout " + rs.getString(2) + " on its sessions");
                }
            if (!schemaWarned.get())
                try (PreparedStatement ps = prepare(c, plain.schemaPresent)) {
                    ps.setString(1, settings.schema);
                    try (ResultSet rs = timed(ps, limits, PreparedStatement::executeQuery)) {
                        if (rs.next() && !rs.getBoolean(1) && schemaWarned.compareAndSet(false, true))
                            log.warn(
                                    "{}: schema \"{}\" of {} has no locking tables yet: calls fail until the"
                                            + " migrations run (LockingModule.migrate() or `locking migrate`)",
                                    label,
                                    settings.schema,
                                    where());
                    }
                }
            if (!c.getAutoCommit()) c.commit();
        } catch (SQLException | RuntimeException e) {
            log.debug("{}: could not look at the database at start: {}", label, Printable.escape(e.toString()));
        }
    }

    /**
     * Where the LISTEN connection goes: listen-url, else url, else the settings the application's
     * DataSource connects with. Null when none of them is known: waiters then poll.
     */
    private ListenerTarget listenerTarget(Optional<DataSource> handedIn) {
        if (settings.listenUrl != null || settings.url != null || handedIn.isEmpty())
            return ListenerTarget.of(
                    settings.listenUrl != null ? settings.listenUrl : settings.url,
                    settings.user,
                    settings.password,
                    null);
        return ListenerTarget.of(handedIn.get()).orElse(null);
    }

    private NotificationListener.ConnectionSource listenerConnections(ListenerTarget target, String registrationId) {
        Properties overrides = new Properties();
        overrides.setProperty("ApplicationName", "dev.locking listener lp_" + registrationId);
        overrides.setProperty("tcpKeepAlive", "true");
        overrides.setProperty("connectTimeout", "10");
        overrides.setProperty("socketTimeout", String.valueOf(NotificationListener.SOCKET_TIMEOUT_SECONDS));
        return new NotificationListener.ConnectionSource() {
            @Override
            public Connection open() throws SQLException {
                return target.open(overrides);
            }

            @Override
            public String toString() {
                return target.toString();
            }
        };
    }

    /**
     * Opens the LISTEN connection on {@code socketFactory} ({@link ListenerSocketFactory}: each
     * notification is handed over as soon as it arrives), or on pgjdbc's default socket when pgjdbc
     * cannot load that class (a class loader that does not see this jar), where each notification
     * reaches the listener about a millisecond later. Null when pgjdbc does not take the URL.
     */
    static Connection openListening(String url, Properties props, String socketFactory) throws SQLException {
        Properties withFactory = new Properties();
        withFactory.putAll(props);
        withFactory.setProperty("socketFactory", socketFactory);
        try {
            return new org.postgresql.Driver().connect(url, withFactory);
        } catch (SQLException e) {
            if (!causedBy(e, ReflectiveOperationException.class)) throw e;
            log.info("LISTEN on pgjdbc's default socket: {}", e.toString());
            return new org.postgresql.Driver().connect(url, props);
        }
    }

    private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause()) if (type.isInstance(t)) return true;
        return false;
    }

    private String where() {
        if (ownedPool != null) return PostgresSettings.redact(settings.url);
        return "the application's DataSource";
    }

    private String mode() {
        if (listener == null) return "poll every " + settings.pollInterval.toMillis() + " ms";
        if (listener.stoppedBehindPooler())
            return "poll every " + settings.pollInterval.toMillis() + " ms (LISTEN went through a transaction-mode"
                    + " pooler; set listen-url)";
        return "LISTEN/NOTIFY on " + listenerTarget + ", polling every " + settings.pollInterval.toMillis()
                + " ms as backstop";
    }

    /** The keys of a call for a message or a log line, escaped: a key may hold any character. */
    private static String describe(List<String> keys) {
        if (keys.size() == 1) return "key \"" + Printable.escape(keys.get(0)) + "\"";
        List<String> shown = keys.subList(0, Math.min(3, keys.size())).stream()
                .map(k -> "\"" + Printable.escape(k) + "\"")
                .toList();
        return "keys " + String.join(", ", shown) + (keys.size() > 3 ? " and " + (keys.size() - 3) + " more" : "");
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // The connection is broken; the pool discards it.
        }
    }
}
