package dev.locking.core;

import dev.locking.spi.LockingProviderFactory;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds provider factories with {@link ServiceLoader}. Only factories are instantiated here;
 * nothing connects until a registration is created. A jar whose factory cannot be loaded is
 * reported and skipped, so one broken jar does not hide the others.
 */
final class ProviderDiscovery {
    private static final Logger log = LoggerFactory.getLogger(ProviderDiscovery.class);

    /** Factories by identifier, in discovery order; an identifier two jars claim maps to both. */
    final Map<String, List<LockingProviderFactory>> byIdentifier = new LinkedHashMap<>();

    ProviderDiscovery(ClassLoader classLoader) {
        Iterator<LockingProviderFactory> it =
                ServiceLoader.load(LockingProviderFactory.class, classLoader).iterator();
        while (true) {
            LockingProviderFactory factory;
            try {
                if (!it.hasNext()) break;
                factory = it.next();
            } catch (ServiceConfigurationError e) {
                log.error("A locking provider jar is broken and was skipped: {}", e.getMessage(), e);
                continue;
            }
            String identifier;
            try {
                identifier = factory.identifier();
            } catch (RuntimeException e) {
                log.error("Locking provider {} failed to report its identifier and was skipped", factory.getClass(), e);
                continue;
            }
            byIdentifier.computeIfAbsent(identifier, k -> new ArrayList<>()).add(factory);
            log.info(
                    "Found locking provider '{}' ({}): {}",
                    identifier,
                    factory.getClass().getName(),
                    describe(factory));
        }
        byIdentifier.forEach((identifier, factories) -> {
            if (factories.size() > 1)
                log.warn(
                        "Locking provider identifier '{}' is advertised by {} jars: {}; registrations that resolve it"
                                + " will be rejected until only one is on the classpath",
                        identifier,
                        factories.size(),
                        classNames(factories));
        });
    }

    List<FoundProvider> found() {
        List<FoundProvider> found = new ArrayList<>();
        byIdentifier.forEach((identifier, factories) -> factories.forEach(
                f -> found.add(new FoundProvider(identifier, f.getClass().getName(), describe(f)))));
        return List.copyOf(found);
    }

    static String describe(LockingProviderFactory factory) {
        try {
            return factory.description();
        } catch (RuntimeException e) {
            return factory.identifier();
        }
    }

    static List<String> classNames(List<LockingProviderFactory> factories) {
        return factories.stream().map(f -> f.getClass().getName()).toList();
    }
}
