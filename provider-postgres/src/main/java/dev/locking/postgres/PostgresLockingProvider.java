package dev.locking.postgres;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool;
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
import java.sql.SQLTransientConnectionException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
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
     * The lock wait of leaveQueue: a waiter that gave up must not wait long to say so. If the keys
     * stay busy that long, the entry is left to waiter-expiry.
     */
    static final long LEAVE_QUEUE_MILLIS = 100;

    /** What the lock functions (schema V3 on) raise when a key's advisory lock wait timed out. */
    private static final String KEY_LOCK_TIMEOUT = "dev.locking: lock timeout waiting for a key's advisory lock";

    private final String label;
    private final PostgresSettings settings;
    private final DataSource dataSource;
    private final HikariDataSource ownedPool;
    private final Statements sql;
    private final NotificationListener listener;
    private final String registrationId;
    private final StatementWatchdog timeouts;
    private final long statementTimeoutMillis;
    private final int lockTimeoutMillis;
    /** Waiters that may have a queue entry (a blocked attempt of theirs committed), until they leave it. */
    private final Set<String> queued = ConcurrentHashMap.newKeySet();

    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean schemaWarned = new AtomicBoolean();
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
        this.sql = new Statements(settings.schema, settings.synchronousCommit);
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
        this.granted = granted;
        if (settings.notifications == PostgresSettings.Notifications.LISTEN) {
            this.listener = new NotificationListener(
                    label,
                    Map.of(settings.channel(), keyReleased, settings.grantChannel(), this::grantNotified),
                    listenerConnections(registrationId),
                    this::checkSchema);
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
        String waiterId = request.waiterId();
        // Stored with the grant: a retry after a lost reply finds its own grant instead of "held".
        String grant = UUID.randomUUID().toString();
        long started = System.nanoTime();
        try {
            AcquireResult result = call("acquire " + describe(keys), deadline(request.budget()), (c, limits) -> {
                try (PreparedStatement ps = prepare(c, sql.tryAcquire)) {
                    ps.setArray(1, textArray(c, keys));
                    ps.setString(2, request.owner());
                    setMillis(ps, 3, request.lease());
                    ps.setString(4, waiterId);
                    ps.setString(5, grant);
                    ps.setLong(6, settings.waiterExpiry.toMillis());
                    ps.setInt(7, limits.lockMillis());
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
            // Every connection of the pool stayed in use for the pool's whole connectionTimeout, and
            // no connection attempt failed: the store is busy (or its calls are stuck), and a caller
            // with time left keeps waiting, as for a busy key, until its own timeout.
            if (poolSaturated(e.getCause())
                    && (request.budget() == null
                            || System.nanoTime() - started < request.budget().toNanos())) {
                warnSaturated();
                return new AcquireResult.Blocked(keys.get(0), SATURATED_RETRY, null);
            }
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
     * The key whose advisory lock timed out. The lock functions name it (schema V3 on); a lock
     * timeout without that name (an older schema, or a row lock) is reported on the first key, the
     * only one that can be named then: for a multi-key call that may not be the busy one.
     */
    private String busyKey(SQLException e, List<String> keys) {
        if (e instanceof PSQLException p) {
            ServerErrorMessage m = p.getServerErrorMessage();
            if (m != null && KEY_LOCK_TIMEOUT.equals(m.getMessage()) && keys.contains(m.getDetail()))
                return m.getDetail();
        }
        if (keys.size() > 1)
            log.debug(
                    "{}: lock timeout on one of {} and the database did not say which; reporting the first."
                            + " Run migrate to get the schema that names it.",
                    label,
                    describe(keys));
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
        if (!schemaBeforeV7) {
            try {
                Released released = call("release " + describe(keys), NO_DEADLINE, (c, limits) -> {
                    try (PreparedStatement ps = prepare(c, sql.releaseReporting)) {
                        ps.setArray(1, textArray(c, keys));
                        ps.setString(2, owner);
                        ps.setInt(3, limits.lockMillis());
                        ps.setBoolean(4, settings.synchronousCommit == PostgresSettings.SynchronousCommit.GRANTS);
                        return readRelease(single(ps, limits), keys);
                    }
                });
                // The release has committed, its grant included: a waiter parked here runs now,
                // without waiting for the notification (which still comes, and finds it gone).
                if (released.handedTo() != null && granted.test(released.handedTo(), released.grant()))
                    queued.remove(released.handedTo());
                return released.released();
            } catch (LockingException e) {
                // A schema migrated before V7 has no locking_release_reporting: the call failed
                // before it ran. Release as before; waiters here learn of grants by notification.
                if (!(e.getCause() instanceof SQLException s && "42883".equals(s.getSQLState()))) throw e;
                schemaBeforeV7 = true;
                log.info(
                        "{}: schema \"{}\" is older than this provider (no V7): a waiter in this process learns"
                                + " that a release handed it its key by notification only, until you run the"
                                + " migrations: LockingModule.migrate() or `locking migrate`",
                        label,
                        settings.schema);
            }
        }
        if (!schemaBeforeV4) {
            try {
                return call("release " + describe(keys), NO_DEADLINE, (c, limits) -> {
                    try (PreparedStatement ps = prepare(c, sql.release)) {
                        ps.setArray(1, textArray(c, keys));
                        ps.setString(2, owner);
                        ps.setInt(3, limits.lockMillis());
                        ps.setBoolean(4, settings.synchronousCommit == PostgresSettings.SynchronousCommit.GRANTS);
                        return single(ps, limits).getBoolean(1);
                    }
                });
            } catch (LockingException e) {
                // A schema migrated before V4 has the three-argument release only: the call failed
                // before it ran. Keep releasing, durably, until migrate has run.
                if (!(e.getCause() instanceof SQLException s && "42883".equals(s.getSQLState()) && hasOldRelease()))
                    throw e;
                schemaBeforeV4 = true;
                log.warn(
                        "{}: schema \"{}\" is older than this provider (no V4); releases work, durably and"
                                + " slower, until you run the migrations: LockingModule.migrate() or `locking migrate`",
                        label,
                        settings.schema);
            }
        }
        return call("release " + describe(keys), NO_DEADLINE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, sql.releaseBeforeV4)) {
                ps.setArray(1, textArray(c, keys));
                ps.setString(2, owner);
                ps.setInt(3, limits.lockMillis());
                return single(ps, limits).getBoolean(1);
            }
        });
    }

    /**
     * What a release did: whether it freed the key, and the waiter it handed the key to (schema V7),
     * with that grant; both null when it handed nothing over.
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

    /** Set once a release found a schema from before V7 (no locking_release_reporting). */
    private volatile boolean schemaBeforeV7;

    /** Set once a release found a schema from before V4 (three-argument locking_release only). */
    private volatile boolean schemaBeforeV4;

    private boolean hasOldRelease() {
        try {
            return call("look for the release function", NO_DEADLINE, (c, limits) -> {
                try (PreparedStatement ps = prepare(c, sql.releaseBeforeV4Present)) {
                    ps.setString(1, settings.schema);
                    return single(ps, limits).getBoolean(1);
                }
            });
        } catch (LockingException e) {
            return false;
        }
    }

    @Override
    public int releaseAll(String owner) {
        return call(
                "releaseAll of " + (owner == null ? "anonymous locks" : "owner \"" + owner + "\""),
                NO_DEADLINE,
                (c, limits) -> {
                    try (PreparedStatement ps = prepare(c, sql.releaseAll)) {
                        ps.setString(1, owner);
                        return single(ps, limits).getInt(1);
                    }
                });
    }

    @Override
    public boolean renew(List<String> keys, String owner, Duration lease) {
        return call("renew " + describe(keys), NO_DEADLINE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, sql.renew)) {
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
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LEAVE_QUEUE_MILLIS);
        try {
            call("leave the queue of " + describe(keys), deadline, (c, limits) -> {
                try (PreparedStatement ps = prepare(c, sql.leaveQueue)) {
                    ps.setArray(1, textArray(c, keys));
                    ps.setString(2, waiterId);
                    ps.setInt(3, limits.lockMillis());
                    single(ps, limits);
                    return null;
                }
            });
        } catch (LockingException e) {
            String state = e.getCause() instanceof SQLException s ? s.getSQLState() : null;
            // The keys are busy, or the server slow: a waiter that gave up does not wait for that.
            // Its entries stop being refreshed, and waiter-expiry drops them.
            if (!"55P03".equals(state) && !"57014".equals(state)) throw e;
            log.debug(
                    "{}: could not leave the queue of {} within {} ms ({}); waiter-expiry ({}) drops the entry",
                    label,
                    describe(keys),
                    LEAVE_QUEUE_MILLIS,
                    state,
                    settings.waiterExpiry);
        }
    }

    /**
     * A release handed a key to the first waiter in its queue (schema V6): payload {@code "<waiter
     * id> <token> <expiry, µs since the epoch> <key>"}. Handed to the waiter if it is parked here;
     * otherwise nothing is done: the waiter is another process's, or finds the grant with its next
     * attempt, or frees it when it leaves the queue.
     */
    private void grantNotified(String payload) {
        String[] parts = payload.split(" ", 4);
        AcquireResult.Acquired grant;
        try {
            if (parts.length < 4) throw new NumberFormatException("4 fields expected");
            long micros = Long.parseLong(parts[2]);
            Instant expiresAt = Instant.ofEpochSecond(
                    Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L);
            grant = new AcquireResult.Acquired(Map.of(parts[3], Long.parseLong(parts[1])), expiresAt);
        } catch (NumberFormatException e) {
            log.debug("{}: ignoring a grant notification that is not one ({})", label, e.getMessage());
            return;
        }
        if (granted.test(parts[0], grant)) queued.remove(parts[0]);
    }

    /** One statement keeps every waiter parked in this process in line, whatever their number. */
    @Override
    public boolean refreshWaiters(Map<String, List<String>> keysByWaiterId) {
        if (keysByWaiterId.isEmpty()) return true;
        long deadline = System.nanoTime() + settings.pollInterval.toNanos();
        call("refresh " + keysByWaiterId.size() + " parked waiters", deadline, (c, limits) -> {
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
        return Optional.of(call("list locks", NO_DEADLINE, (c, limits) -> {
            try (PreparedStatement ps = prepare(c, sql.list)) {
                ps.setString(1, owner);
                ps.setBoolean(2, owner == null);
                ps.setInt(3, limit);
                List<HeldLock> held = new ArrayList<>();
                try (ResultSet rs = query(ps, limits)) {
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
            List<String> applied;
            if (ownedPool == null) applied = PostgresMigrations.migrate(dataSource, settings.schema);
            else
                try (HikariDataSource once = new HikariDataSource(settings.migrationConfig(registrationId))) {
                    applied = PostgresMigrations.migrate(once, settings.schema);
                }
            schemaBeforeV4 = false;
            applied.forEach(line -> log.info("{}: applied {}", label, line));
            return applied;
        } catch (FlywayException e) {
            throw new LockingException(
                    label + " (locking-postgres): migrating schema \"" + settings.schema + "\" of " + where()
                            + " failed: " + migrationProblem(e) + ". Check that the user may create tables and"
                            + " functions in that schema, then run migrate again.",
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
        if (!closed.compareAndSet(false, true)) return;
        if (listener != null) listener.close();
        if (ownedPool != null) ownedPool.close();
        timeouts.close();
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
     * What one attempt of a call may take.
     *
     * @param lockMillis the longest wait for the keys' advisory locks (the functions' lock timeout)
     * @param queryMillis the query timeout: past it the statement is cancelled
     */
    record Limits(int lockMillis, long queryMillis) {}

    /**
     * When a call with a caller's {@code budget} must give up: the budget plus a margin, and at least
     * {@link #LOCK_FLOOR_MILLIS} from now. {@link #NO_DEADLINE} for no budget.
     */
    static long deadline(Duration budget) {
        if (budget == null) return NO_DEADLINE;
        long millis =
                budget.compareTo(Duration.ofDays(1)) > 0 ? Duration.ofDays(1).toMillis() : ceilMillis(budget);
        return System.nanoTime()
                + TimeUnit.MILLISECONDS.toNanos(Math.max(LOCK_FLOOR_MILLIS, millis + BUDGET_MARGIN_MILLIS));
    }

    /**
     * The limits of an attempt starting now: the configured ones, shrunk to what is left before
     * {@code deadline} (the lock wait) and before {@link #QUERY_SLACK_MILLIS} after it (the whole
     * statement), so that no attempt, first or retried, runs on past that.
     */
    Limits limits(long deadline) {
        if (deadline == NO_DEADLINE) return new Limits(lockTimeoutMillis, statementTimeoutMillis);
        long now = System.nanoTime();
        // Every attempt, a retry too, keeps the floor: a caller that does not wait must still get
        // an answer from a healthy server, not a statement cancelled before it could run.
        long left = Math.max(LOCK_FLOOR_MILLIS, TimeUnit.NANOSECONDS.toMillis(deadline - now));
        long end = Math.max(
                LOCK_FLOOR_MILLIS + QUERY_SLACK_MILLIS,
                TimeUnit.NANOSECONDS.toMillis(deadline - now) + QUERY_SLACK_MILLIS);
        int lock = (int) Math.min(lockTimeoutMillis, left);
        return new Limits(lock, Math.min(statementTimeoutMillis, Math.min(end, lock + QUERY_SLACK_MILLIS)));
    }

    private <T> T call(String what, long deadline, SqlCall<T> body) {
        if (closed.get()) throw new IllegalStateException(label + " is closed");
        for (int attempt = 1; ; attempt++) {
            Connection connection = borrow(what, deadline);
            Limits limits = limits(deadline);
            try {
                return runOn(connection, c -> body.run(c, limits));
            } catch (SQLException e) {
                // A retry never starts past the bound of the caller's deadline: a dead connection
                // fails at once, so a retry on a fresh one fits unless connecting is slow.
                boolean timeLeft = deadline == NO_DEADLINE
                        || deadline + TimeUnit.MILLISECONDS.toNanos(QUERY_SLACK_MILLIS) - System.nanoTime() > 0;
                if (attempt >= ATTEMPTS || !retryable(e) || !timeLeft) throw failure(what, e, limits, deadline);
                // Killed backends and restarted servers leave dead connections in the pool; they
                // fail before the statement ran, so trying again on a fresh one is safe.
                log.debug("{}: {} failed on a dead connection ({}); trying a fresh one", label, what, e.toString());
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
                if (manual) rollbackQuietly(connection);
                throw e;
            }
        }
    }

    /**
     * A pooled connection. A call with a deadline waits for one of a HikariCP pool (the provider's
     * own, or a handed-in {@link HikariDataSource}) no longer than its lock wait and statement could
     * run ({@link #QUERY_SLACK_MILLIS} past the deadline, at least {@link #LOCK_FLOOR_MILLIS} plus
     * that), when that is shorter than the pool's {@code connectionTimeout}; any other call, or
     * another pool, waits the pool's own timeout.
     */
    private Connection borrow(String what, long deadline) {
        long waitMillis = 0;
        try {
            HikariPool pool = deadline == NO_DEADLINE ? null : hikariPool();
            if (pool != null) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                waitMillis = Math.max(LOCK_FLOOR_MILLIS, left) + QUERY_SLACK_MILLIS;
                if (waitMillis < ((HikariDataSource) dataSource).getConnectionTimeout())
                    return pool.getConnection(waitMillis);
                waitMillis = 0;
            }
            return dataSource.getConnection();
        } catch (SQLException e) {
            if (poolSaturated(e))
                throw new LockingException(
                        label + " (locking-postgres): " + what + " failed: every connection of the pool stayed in"
                                + " use for "
                                + (waitMillis > 0
                                        ? "the " + waitMillis + " ms the call could wait"
                                        : "its connectionTimeout")
                                + " (" + e.getMessage() + ") and no connection"
                                + " attempt failed: the pool is too small for the load (raise"
                                + " pool.maximumPoolSize, or the handed-in DataSource's size), or the calls holding"
                                + " its connections are stuck (a slow or hung database, the network); the call can"
                                + " be retried.",
                        e);
            throw new LockingException(
                    label + " (locking-postgres): " + what + " failed: no connection to " + where() + " ("
                            + e.getMessage() + "). Check that PostgreSQL is running and reachable and that url,"
                            + " user and password are right; the call can be retried.",
                    e);
        }
    }

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
        return timed(ps, limits, PreparedStatement::executeQuery);
    }

    @FunctionalInterface
    private interface Execution<T> {
        T run(PreparedStatement ps) throws SQLException;
    }

    private <T> T timed(PreparedStatement ps, Limits limits, Execution<T> execution) throws SQLException {
        timeouts.watch(ps, limits.queryMillis());
        try {
            return execution.run(ps);
        } finally {
            timeouts.done();
        }
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

    private LockingException failure(String what, SQLException e, Limits limits, long deadline) {
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
                if (deadline != NO_DEADLINE && limits.queryMillis() < statementTimeoutMillis)
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
            try (ResultSet rs = query(ps, limits(NO_DEADLINE))) {
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
            // The application's DataSource only: one of its connections is kept for LISTEN, and
            // goes back to the application's pool without it.
            DataSource ds = dataSource;
            return new NotificationListener.ConnectionSource() {
                @Override
                public Connection open() throws SQLException {
                    return ds.getConnection();
                }

                @Override
                public boolean borrowed() {
                    return true;
                }

                @Override
                public void discard(Connection connection) {
                    if (ds instanceof HikariDataSource hikari) hikari.evictConnection(connection);
                    else NotificationListener.ConnectionSource.super.discard(connection);
                }
            };
        }
        return () -> {
            Properties props = new Properties();
            if (settings.user != null) props.setProperty("user", settings.user);
            if (settings.password != null) props.setProperty("password", settings.password);
            props.setProperty("ApplicationName", "dev.locking listener lp_" + registrationId);
            props.setProperty("tcpKeepAlive", "true");
            props.setProperty("connectTimeout", "10");
            Connection c = openListening(url, props, ListenerSocketFactory.class.getName());
            if (c == null) throw new SQLException("not a PostgreSQL JDBC URL: " + PostgresSettings.redact(url));
            return c;
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
        if (settings.notifications == PostgresSettings.Notifications.POLL)
            return "poll every " + settings.pollInterval.toMillis() + " ms";
        if (listener != null && listener.stoppedBehindPooler())
            return "poll every " + settings.pollInterval.toMillis() + " ms (LISTEN went through a transaction-mode"
                    + " pooler; set listen-url)";
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
