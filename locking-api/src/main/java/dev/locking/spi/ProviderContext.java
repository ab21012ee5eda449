package dev.locking.spi;

import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/** What core hands a factory when it creates a registration. */
public interface ProviderContext {

    /** The registration's id, e.g. {@code "postgres-lock"}; calls address it as {@code lp_postgres-lock}. */
    String registrationId();

    /**
     * The registration's {@code options} block over the defaults the provider jar ships in its
     * {@code reference.conf} under {@code locking.provider-defaults.<identifier>}, as plain values
     * (String, Number, Boolean, List, Map). Durations stay strings such as {@code "30s"};
     * {@code ConfigFactory.parseMap(options())} turns the map back into a typed {@code Config}.
     */
    Map<String, Object> options();

    /** Where {@link #options()} came from, e.g. {@code locking.providers[0].options}, for error messages. */
    String optionsPath();

    /** The DataSource the application handed {@code LockingModule.builder().dataSource(id, ds)}, if any. */
    Optional<DataSource> dataSource();

    /**
     * Tells core that {@code key} may have become free (released, expired, or a waiter left its
     * queue), in this process or another one. Core wakes the local waiter first in line for it.
     * Cheap and non-blocking; may be called from any thread, never while holding a lock core might
     * need.
     */
    void keyReleased(String key);

    /**
     * Tells core that the store has already granted {@code grant} to the waiting caller {@code
     * waiterId} (a release handed the keys to the first in line), so that the caller runs without
     * another attempt. Core hands it to that caller if it is parked in this process, still waiting,
     * and has waited less than half its lease, and answers true: the caller then holds the keys, and
     * {@link LockingProvider#leaveQueue} is not called for it. (Core counts the grant's lease from
     * the start of the wait, the latest instant it knows to precede the grant.) Otherwise (the
     * caller is in another process, gave up, took the grant with its own attempt, or has waited
     * longer) it answers false and nothing changes: the provider must let the caller's next attempt
     * find the grant, with its lease counted again from that attempt, and free it in {@code
     * leaveQueue}.
     *
     * <p>{@code grant.expiresAt()} must not be null: only a grant with a lease may be made on a
     * caller's behalf (one without would outlive a caller that died meanwhile). Cheap and
     * non-blocking; may be called from any thread.
     *
     * @param waiterId an id core passed in {@link AcquireRequest#waiterId()}
     */
    default boolean granted(String waiterId, AcquireResult.Acquired grant) {
        return false;
    }
}
