package dev.locking.core;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When this module granted the locks its {@code acquire} calls took, so that a later {@code
 * release} can tell listeners how long they were held. Kept only while a listener is registered,
 * and bounded: a lock that is never released here (left to expire, or released by another
 * process) must not grow it forever, so expired entries are dropped when it fills, and a grant
 * that finds it still full is not timed.
 */
final class AcquiredHolds {
    static final int CAPACITY = 10_000;

    private record Held(String provider, String owner, String key) {}

    private record Since(long grantedAt, long expiresAt) {
        boolean expired(long now) {
            return now - expiresAt >= 0;
        }
    }

    private final Map<Held, Since> holds = new ConcurrentHashMap<>();

    /** @param lease the grant's lease; null: held until released */
    void granted(String provider, String owner, List<String> keys, long grantedAt, Duration lease) {
        // Without a lease the entry lives until released; a far deadline keeps the arithmetic simple.
        long expiresAt = grantedAt + (lease == null ? Long.MAX_VALUE / 2 : lease.toNanos());
        if (holds.size() + keys.size() > CAPACITY) dropExpired(System.nanoTime());
        if (holds.size() + keys.size() > CAPACITY) return;
        for (String key : keys)
            // The same owner taking a key again keeps holding it: the hold began at the first grant.
            holds.merge(
                    new Held(provider, owner, key),
                    new Since(grantedAt, expiresAt),
                    (old, renewed) -> lease == null ? old : new Since(old.grantedAt, expiresAt));
    }

    /** Forgets {@code keys}; returns the earliest grant among them that had not expired, or null. */
    Long released(String provider, String owner, List<String> keys) {
        long now = System.nanoTime();
        Long earliest = null;
        for (String key : keys) {
            Since since = holds.remove(new Held(provider, owner, key));
            if (since != null && !since.expired(now) && (earliest == null || since.grantedAt - earliest < 0))
                earliest = since.grantedAt;
        }
        return earliest;
    }

    /** Forgets every lock of {@code owner}; returns the distinct grant times that had not expired. */
    List<Long> releasedAll(String provider, String owner) {
        long now = System.nanoTime();
        TreeSet<Long> grants = new TreeSet<>();
        holds.entrySet().removeIf(e -> {
            Held held = e.getKey();
            if (!held.provider.equals(provider) || !java.util.Objects.equals(held.owner, owner)) return false;
            if (!e.getValue().expired(now)) grants.add(e.getValue().grantedAt);
            return true;
        });
        return List.copyOf(grants);
    }

    int size() {
        return holds.size();
    }

    private void dropExpired(long now) {
        holds.values().removeIf(since -> since.expired(now));
    }
}
