package dev.locking.redis;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.core.LockingModule;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Configuration of a module whose only (so default) provider is locking-redis with the given options. */
final class RedisTestConfig {
    private RedisTestConfig() {}

    static Config config(Map<String, Object> options) {
        Map<String, Object> registration = new LinkedHashMap<>();
        registration.put("resolve", "locking-redis");
        registration.put("id", "redis-lock");
        registration.put("is_default", true);
        registration.put("options", options);
        return ConfigFactory.parseMap(Map.of("locking.providers", List.of(registration)));
    }

    static LockingModule module(Map<String, Object> options) {
        return LockingModule.builder().config(config(options)).build();
    }

    static Map<String, Object> standalone(String url, String namespace) {
        return Map.of("url", url, "namespace", namespace, "poll-interval", "200ms", "waiter-expiry", "3s");
    }

    static Map<String, Object> cluster(List<String> seeds, String namespace) {
        return Map.of("cluster-nodes", seeds, "namespace", namespace, "poll-interval", "200ms", "waiter-expiry", "3s");
    }
}
