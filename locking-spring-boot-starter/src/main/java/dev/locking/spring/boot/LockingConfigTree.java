package dev.locking.spring.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the bound {@code locking} properties into the HOCON tree core reads, over a fallback
 * (application.conf and reference.conf), so Spring's properties win key by key and a {@code
 * providers} list set in Spring replaces the one of application.conf whole.
 */
final class LockingConfigTree {
    private LockingConfigTree() {}

    static Config of(LockingProperties properties, Config fallback) {
        Map<String, Object> locking = new LinkedHashMap<>();
        if (properties.getProviders() != null) {
            List<Object> providers = new ArrayList<>();
            for (LockingProperties.Provider p : properties.getProviders()) {
                Map<String, Object> entry = new LinkedHashMap<>();
                if (p.getResolve() != null) entry.put("resolve", p.getResolve());
                if (p.getId() != null) entry.put("id", p.getId());
                if (p.getIsDefault() != null) entry.put("is_default", p.getIsDefault());
                if (p.getOptions() != null && !p.getOptions().isEmpty()) entry.put("options", plain(p.getOptions()));
                providers.add(entry);
            }
            locking.put("providers", providers);
        }
        Map<String, Object> execute = new LinkedHashMap<>();
        putDuration(execute, "timeout", properties.getExecute().getTimeout());
        putDuration(execute, "expire", properties.getExecute().getExpire());
        if (!execute.isEmpty()) locking.put("execute", execute);
        if (properties.getMigrateOnStart() != null) locking.put("migrate-on-start", properties.getMigrateOnStart());
        if (properties.getRenewalThreads() != null) locking.put("renewal-threads", properties.getRenewalThreads());
        putDuration(locking, "shutdown-timeout", properties.getShutdownTimeout());
        if (locking.isEmpty()) return fallback;
        return ConfigValueFactory.fromMap(Map.of("locking", locking), "Spring properties locking.*")
                .toConfig()
                .withFallback(fallback);
    }

    /** HOCON has no ISO-8601 durations; nanoseconds keep every value exact. */
    private static void putDuration(Map<String, Object> into, String key, Duration value) {
        if (value != null) into.put(key, value.toNanos() + "ns");
    }

    /**
     * Spring binds an indexed property under a map ({@code options.cluster-nodes[0]}) as a map with
     * keys "0", "1", ...; HOCON wants a list there.
     */
    private static Object plain(Object value) {
        if (value instanceof Map<?, ?> map) {
            if (!map.isEmpty() && isIndexed(map)) {
                List<Object> list = new ArrayList<>();
                for (int i = 0; i < map.size(); i++) list.add(plain(map.get(String.valueOf(i))));
                return list;
            }
            Map<String, Object> copy = new LinkedHashMap<>();
            map.forEach((k, v) -> copy.put(String.valueOf(k), plain(v)));
            return copy;
        }
        if (value instanceof List<?> list)
            return list.stream().map(LockingConfigTree::plain).toList();
        return value;
    }

    private static boolean isIndexed(Map<?, ?> map) {
        for (int i = 0; i < map.size(); i++) if (!map.containsKey(String.valueOf(i))) return false;
        return true;
    }
}
