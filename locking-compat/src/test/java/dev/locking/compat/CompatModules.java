package dev.locking.compat;

import com.typesafe.config.ConfigFactory;
import dev.locking.core.LockingModule;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A module with one registration, configured as an application would configure it. */
final class CompatModules {
    private CompatModules() {}

    static LockingModule module(String resolve, Map<String, Object> options) {
        Map<String, Object> registration = new LinkedHashMap<>();
        registration.put("resolve", resolve);
        registration.put("id", "compat");
        registration.put("options", options);
        return LockingModule.create(ConfigFactory.parseMap(Map.of("locking.providers", List.of(registration)))
                .withFallback(ConfigFactory.load()));
    }
}
