package dev.locking.spring.boot;

import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The health check of one registration, apart from either Spring Boot line's health API: {@link
 * LockingModule#check}, a no-wait take and release of a fresh key of its own. It proves the store
 * takes and frees locks (a read would pass on a read-only replica that refuses every lock), never
 * waits behind the application's keys, and stays out of the application's lock metrics. Its cost
 * per registration and request: two round trips to the store (on PostgreSQL, one short row written
 * and deleted).
 */
final class LockingHealthCheck {

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
        try {
            details.put("checkMillis", module.check(registration.address()).toMillis());
            return new Result(true, details);
        } catch (RuntimeException e) {
            // Messages of this library and its providers never carry a password or a credentialed URL.
            details.put("error", e.getClass().getName() + ": " + e.getMessage());
            return new Result(false, details);
        }
    }
}
