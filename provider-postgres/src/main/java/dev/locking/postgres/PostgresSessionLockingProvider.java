package dev.locking.postgres;

import dev.locking.api.LockingConfigurationException;
import dev.locking.session.SessionLocks;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import dev.locking.spi.LockingProvider;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Session mode ({@code mode = "session"}): each lock is a session-level advisory lock on one of a
 * few server sessions of the provider's own ({@link PostgresSessions}, multiplexed by {@link
 * SessionLocks}); an uncontended acquire and release write nothing. What session mode shares with
 * table mode (the pool, the waiter queue and its upkeep, LISTEN, the migrations) is the table-mode
 * provider's, which this one delegates to.
 */
final class PostgresSessionLockingProvider implements LockingProvider {
    private static final Logger log = LoggerFactory.getLogger(PostgresSessionLockingProvider.class);

    private final String label;
    private final PostgresLockingProvider shared;
    private final PostgresSessions store;
    private final SessionLocks<PostgresSessions.Session> locks;

    PostgresSessionLockingProvider(
            String registrationId,
            PostgresSettings settings,
            Optional<DataSource> handedIn,
            Consumer<String> keyReleased,
            BiPredicate<String, AcquireResult.Acquired> granted,
            PostgresLockingProvider shared) {
        this.label = "lp_" + registrationId;
        this.shared = shared;
        ListenerTarget target = target(settings, handedIn)
                .orElseThrow(() -> new LockingConfigurationException(List.of(label
                        + " (locking-postgres): mode = \"session\""
                        + " opens server sessions of its own, but cannot tell how the application's DataSource ("
                        + handedIn.map(ds -> ds.getClass().getName()).orElse("none") + ") connects. Set url to the"
                        + " database's JDBC URL, or use mode = \"table\".")));
        this.store = new PostgresSessions(label, target, settings);
        this.locks = new SessionLocks<>(
                label,
                store,
                settings.sessions,
                settings.sessionTimeout.toMillis(),
                keyReleased,
                granted,
                shared::leftLate);
        try {
            locks.open();
        } catch (PostgresSessions.BehindPooler e) {
            locks.close();
            throw e;
        } catch (Exception e) {
            // The database may be down at start; sessions open on first use.
            log.info("{}: no server session at start ({}); sessions open on first use", label, e.toString());
        }
        log.info(
                "{}: session mode, locks held as advisory locks on {} server sessions of {}, session-timeout {}",
                label,
                settings.sessions,
                target,
                settings.sessionTimeout);
    }

    /** url, else the settings the application's DataSource connects with. */
    private static Optional<ListenerTarget> target(PostgresSettings settings, Optional<DataSource> handedIn) {
        if (settings.url != null && handedIn.isEmpty()) {
            Properties driver = new Properties();
            for (String name : settings.pool.stringPropertyNames())
                if (name.startsWith("dataSource."))
                    driver.setProperty(name.substring("dataSource.".length()), settings.pool.getProperty(name));
            return Optional.of(ListenerTarget.of(settings.url, settings.user, settings.password, driver));
        }
        return handedIn.flatMap(ListenerTarget::of);
    }

    @Override
    public AcquireResult tryAcquire(AcquireRequest request) {
        // Waiters of this process that just gave up may still hold places that reserve these keys:
        // a caller that does not wait lets them go first (a waiting one is woken when they have).
        if (request.waiterId() == null
                && (request.budget() == null || request.budget().isZero())) shared.awaitLeavers();
        AcquireResult result;
        try {
            result = locks.tryAcquire(request);
        } catch (RuntimeException e) {
            // An attempt that got no answer may have joined the queue: leaveQueue must run for it.
            if (request.waiterId() != null) shared.queuedWaiter(request.waiterId(), true);
            throw e;
        }
        if (request.waiterId() != null)
            shared.queuedWaiter(request.waiterId(), result instanceof AcquireResult.Blocked);
        return result;
    }

    @Override
    public boolean release(List<String> keys, String owner) {
        return locks.release(keys, owner);
    }

    /** Frees the locks of {@code owner} that this process holds: another process's are on its own sessions. */
    @Override
    public int releaseAll(String owner) {
        return locks.releaseAll(owner);
    }

    @Override
    public boolean renew(List<String> keys, String owner, Duration lease) {
        return locks.renew(keys, owner, lease, null);
    }

    @Override
    public boolean renew(List<String> keys, String owner, Duration lease, Duration budget) {
        return locks.renew(keys, owner, lease, budget);
    }

    @Override
    public void undo(List<String> keys, String owner, String grantId) {
        locks.undo(keys, owner, grantId);
    }

    /**
     * Never: a failed acquire leaves nothing held (see {@link SessionLocks}): its keys are unlocked
     * again, or its session is closed, which frees everything on it.
     */
    @Override
    public boolean mayHaveTaken(RuntimeException failure) {
        return false;
    }

    @Override
    public void leaveQueue(List<String> keys, String waiterId) {
        locks.waitEnded(waiterId);
        shared.leaveQueue(keys, waiterId);
    }

    @Override
    public boolean refreshWaiters(Map<String, List<String>> keysByWaiterId) {
        return shared.refreshWaiters(keysByWaiterId);
    }

    @Override
    public Optional<Duration> pollInterval() {
        return shared.pollInterval();
    }

    /** A session lock ends with its session, and so with this process. */
    @Override
    public boolean locksOutliveProcess() {
        return false;
    }

    /** The locks this process holds: the server knows the others only as advisory locks of other sessions. */
    @Override
    public Optional<List<HeldLock>> list(String owner, int limit) {
        return Optional.of(locks.list(owner, limit));
    }

    @Override
    public List<String> migrate() {
        return shared.migrate();
    }

    @Override
    public void close() {
        locks.close();
        shared.close();
    }

    @Override
    public String toString() {
        return "PostgresSessionLockingProvider{" + label + ", " + store + ", " + shared + "}";
    }
}
