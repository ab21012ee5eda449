package dev.locking.core;

import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockTimeoutException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The listeners of one module, and the one place that calls them and contains their failures. */
final class Listeners {
    private static final Logger log = LoggerFactory.getLogger(Listeners.class);

    private final List<LockingListener> listeners = new CopyOnWriteArrayList<>();
    /** Listeners whose failure was logged at WARN; later ones go to DEBUG, so a broken one cannot flood the log. */
    private final Set<LockingListener> warned = ConcurrentHashMap.newKeySet();

    void add(LockingListener listener) {
        if (listener == null) throw new IllegalArgumentException("listener must not be null");
        listeners.add(listener);
    }

    boolean remove(LockingListener listener) {
        warned.remove(listener);
        return listeners.remove(listener);
    }

    boolean isEmpty() {
        return listeners.isEmpty();
    }

    void acquired(String provider, long calledAt, long grantedAt) {
        long nanos = grantedAt - calledAt;
        fire(l -> l.acquireEnded(provider, LockingListener.Outcome.ACQUIRED, nanos));
    }

    void acquireFailed(String provider, long calledAt, RuntimeException failure) {
        long nanos = System.nanoTime() - calledAt;
        LockingListener.Outcome outcome = failure instanceof LockTimeoutException
                ? LockingListener.Outcome.TIMEOUT
                : failure instanceof LockAcquisitionException
                        ? LockingListener.Outcome.BUSY
                        : LockingListener.Outcome.ERROR;
        fire(l -> l.acquireEnded(provider, outcome, nanos));
    }

    void holdEnded(String provider, long grantedAt) {
        long nanos = System.nanoTime() - grantedAt;
        fire(l -> l.holdEnded(provider, nanos));
    }

    void leaseLost(String provider) {
        fire(l -> l.leaseLost(provider));
    }

    void waitingStarted(String provider) {
        fire(l -> l.waitingStarted(provider));
    }

    void waitingEnded(String provider) {
        fire(l -> l.waitingEnded(provider));
    }

    private void fire(Consumer<LockingListener> event) {
        for (LockingListener listener : listeners) {
            try {
                event.accept(listener);
            } catch (RuntimeException | LinkageError e) {
                if (warned.add(listener))
                    log.warn(
                            "LockingListener {} failed; the lock call goes on (later failures of it are logged at"
                                    + " DEBUG)",
                            listener,
                            e);
                else log.debug("LockingListener {} failed again", listener, e);
            }
        }
    }
}
