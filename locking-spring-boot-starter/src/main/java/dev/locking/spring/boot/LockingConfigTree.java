package dev.locking.spring.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import dev.locking.api.LockingConfigurationException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
            List<String> problems = new ArrayList<>();
            List<LockingProperties.Provider> entries = properties.getProviders();
            for (int i = 0; i < entries.size(); i++) {
                LockingProperties.Provider p = entries.get(i);
                Map<String, Object> entry = new LinkedHashMap<>();
                if (p.getResolve() == null || p.getResolve().isBlank()) problems.add(missingResolve(i));
                else entry.put("resolve", p.getResolve());
                if (p.getId() != null) entry.put("id", p.getId());
                if (p.getIsDefault() != null) entry.put("is_default", p.getIsDefault());
                if (p.getOptions() != null && !p.getOptions().isEmpty())
                    entry.put("options", canonical(plain(p.getOptions()), defaultsOf(p.getResolve(), fallback)));
                providers.add(entry);
            }
            if (!problems.isEmpty()) throw new LockingConfigurationException(problems);
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

    /**
     * An entry without resolve is, in Spring, nearly always a list taken whole from another source
     * than the one the user looked at: Spring binds a list from the one property source that sets
     * any element of it, so an environment variable for one field drops application.yml's list.
     */
    private static String missingResolve(int index) {
        return "locking.providers[" + index + "].resolve is missing. Spring takes the locking.providers list whole"
                + " from the one property source that sets any of its elements: an environment variable such as"
                + " LOCKING_PROVIDERS_" + index + "_OPTIONS_URL, a command-line argument or a profile's"
                + " locking.providers replaces the list of application.yml. Set every field of every entry there,"
                + " or keep the list in application.yml with a placeholder where a value varies"
                + " (url: \"${LOCKING_PG_URL}\"); see docs/spring-boot.md#properties";
    }

    /** The provider's defaults (its reference.conf subtree), which name every option key it knows. */
    private static ConfigObject defaultsOf(String resolve, Config fallback) {
        if (resolve == null || resolve.isBlank()) return null;
        String path = ConfigUtil.joinPath("locking", "provider-defaults", resolve);
        return fallback.hasPath(path) ? fallback.getObject(path) : null;
    }

    /**
     * The option keys spelled as the provider's defaults spell them. Environment variables cannot
     * carry a dash or a capital ({@code LOCKING_PROVIDERS_0_OPTIONS_STATEMENTTIMEOUT} binds as {@code
     * statementtimeout}), and Spring's relaxed binding lets YAML write {@code statement_timeout} or
     * {@code statementTimeout}; the provider knows only {@code statement-timeout}. A key the defaults
     * do not name is kept as written, for the provider to accept or report.
     */
    private static Object canonical(Object options, ConfigObject defaults) {
        if (!(options instanceof Map<?, ?> map) || defaults == null) return options;
        Map<String, String> known = new HashMap<>();
        defaults.keySet().forEach(key -> known.put(relaxed(key), key));
        Map<String, Object> copy = new LinkedHashMap<>();
        map.forEach((k, v) -> {
            String key = String.valueOf(k);
            String name = defaults.containsKey(key) ? key : known.getOrDefault(relaxed(key), key);
            if (!name.equals(key) && map.containsKey(name)) return; // the exact spelling wins
            ConfigValue inner = defaults.get(name);
            copy.put(name, inner instanceof ConfigObject object ? canonical(v, object) : v);
        });
        return copy;
    }

    private static String relaxed(String key) {
        return key.replace("-", "").replace("_", "").toLowerCase(Locale.ROOT);
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
