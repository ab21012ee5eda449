package dev.locking.core;

import dev.locking.api.Lease;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What {@code acquire} returns: an immutable record of the grant. */
record SimpleLease(List<String> keys, String ownerId, Map<String, Long> tokens, Instant expires, String provider)
        implements Lease {

    @Override
    public Optional<String> owner() {
        return Optional.ofNullable(ownerId);
    }

    @Override
    public long fencingToken(String key) {
        return Tokens.of(tokens, key);
    }

    @Override
    public Optional<Instant> expiresAt() {
        return Optional.ofNullable(expires);
    }
}
