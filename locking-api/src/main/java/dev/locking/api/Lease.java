package dev.locking.api;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** A successful {@code acquire}: the keys taken and what they were taken with. */
public interface Lease {

    /** The keys held, sorted and de-duplicated. */
    List<String> keys();

    /** The owner, or empty for an anonymous lock. */
    Optional<String> owner();

    /**
     * The fencing token of {@code key}: greater than the token of every earlier acquisition of
     * that key in the same provider.
     *
     * @throws IllegalArgumentException if {@code key} is not one of {@link #keys()}
     */
    long fencingToken(String key);

    /** When the lease ends, by the store's clock; empty for a lock held until released. */
    Optional<Instant> expiresAt();

    /** The registration that holds it, e.g. {@code "lp_postgres-lock"}. */
    String provider();
}
