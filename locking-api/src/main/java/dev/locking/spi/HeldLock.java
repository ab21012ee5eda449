package dev.locking.spi;

import java.time.Instant;

/**
 * A lock held now, as a provider lists it for operators.
 *
 * @param key the key
 * @param owner the owner, or null for an anonymous lock
 * @param expiresAt when the lease ends by the store's clock, or null for a lock held until released
 * @param fencingToken the token of the acquisition that holds it
 */
public record HeldLock(String key, String owner, Instant expiresAt, long fencingToken) {}
