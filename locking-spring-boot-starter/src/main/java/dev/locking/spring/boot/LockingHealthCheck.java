package dev.locking.spring.boot;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The health check of one registration, apart from either Spring Boot line's health API: a
 * no-wait acquire and release of a key of its own, so it proves the store takes and frees locks,
 * and never waits behind the application's.
 */
final class LockingHealthCheck {
    /** Prefix of the keys the check takes; each check uses a fresh one. */
    static final String KEY_PREFIX = "locking-health/";

    private static final Duration LEASE = Duration.ofSeconds(10);

    /** The outcome: up, and the details to show. */
    record Result(boolean up, Map<String, Object> details) {}

    private final LockingModule module;

    LockingHealthCheck(LockingModule module) {
        this.module = module;
    }

    List<ProviderInfo> registrations() {
        return module.providers();
    }

    Result check(ProviderInfo registration) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("provider", registration.identifier());
        details.put("default", registration.isDefault());
        String id = UUID.randomUUID().toString();
        LockOptions options = LockOptions.defaults()
                .provider(registration.address())
                .owner(KEY_PREFIX + id)
                .expire(LEASE);
        long started = System.nanoTime();
        try {
            module.acquire(KEY_PREFIX + id, options);
            module.release(KEY_PREFIX + id, options);
            details.put(
                    "checkMillis", Duration.ofNanos(System.nanoTime() - started).toMillis());
            return new Result(true, details);
        } catch (RuntimeException e) {
            details.put("error", e.getClass().getName() + ": " + e.getMessage());
            return new Result(false, details);
        }
    }
}
