package dev.locking.core;

import dev.locking.api.LockingConfigurationException;
import dev.locking.api.LockingException;
import dev.locking.inmemory.InMemoryLockingProviderFactory;
import dev.locking.spi.LockingProviderFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Which registrations exist, which is the default and why, and which names route to each. */
record Selection(
        List<Registration> registrations,
        Registration defaultRegistration,
        Map<String, Registration> routes,
        List<ProviderInfo> infos) {
    private static final Logger log = LoggerFactory.getLogger(Selection.class);

    static Selection select(
            ModuleSettings settings,
            ProviderDiscovery discovery,
            Map<String, DataSource> dataSources,
            List<String> problems) {
        List<ModuleSettings.RegistrationSpec> specs = new ArrayList<>(settings.registrations);
        boolean implicit = specs.isEmpty() && problems.isEmpty();
        if (implicit) {
            log.warn("No locking.providers configured: using the in-memory provider alone; its locks do not cross"
                    + " processes. Register locking-postgres or locking-redis to lock across application instances.");
            specs.add(new ModuleSettings.RegistrationSpec(
                    "locking.providers (none configured)",
                    InMemoryLockingProviderFactory.IDENTIFIER,
                    InMemoryLockingProviderFactory.IDENTIFIER,
                    true,
                    com.typesafe.config.ConfigFactory.empty()));
        }

        List<Registration> registrations = new ArrayList<>();
        for (ModuleSettings.RegistrationSpec spec : specs) {
            List<LockingProviderFactory> candidates = discovery.byIdentifier.get(spec.resolve());
            if (candidates == null) {
                problems.add(spec.path() + ".resolve = \"" + spec.resolve()
                        + "\": no provider jar on the classpath advertises it; found: "
                        + String.join(", ", discovery.byIdentifier.keySet())
                        + ". Add the provider's jar (e.g. dev.locking:provider-postgres) or fix the identifier.");
                continue;
            }
            if (candidates.size() > 1) {
                problems.add(spec.path() + ".resolve = \"" + spec.resolve() + "\" is advertised by several jars: "
                        + ProviderDiscovery.classNames(candidates) + ". Keep one of them on the classpath.");
                continue;
            }
            registrations.add(new Registration(
                    spec.id(), candidates.get(0), spec.path() + ".options", settings.optionsFor(spec)));
        }
        if (!problems.isEmpty()) return empty();

        Map<String, Registration> routes = routes(registrations);
        // DataSources handed to the builder, bound by any name a call could use. One for a
        // registration this configuration lacks is left unused, so that moving from PostgreSQL to
        // Redis (or back) is a change of configuration alone.
        dataSources.forEach((name, ds) -> {
            Registration r = routes.get(name);
            if (r == null)
                log.info(
                        "LockingModule.builder().dataSource(\"{}\", ...) names no registration, so it is not used;"
                                + " registered: {}",
                        name,
                        addresses(registrations));
            else r.bind(ds);
        });

        List<Registration> flagged = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) if (specs.get(i).isDefault()) flagged.add(registrations.get(i));
        Registration chosen;
        String reason;
        if (registrations.size() == 1) {
            chosen = registrations.get(0);
            reason = implicit
                    ? "no locking.providers configured; in-memory locks do not cross processes"
                    : "the only registered provider";
        } else if (flagged.size() == 1) {
            chosen = flagged.get(0);
            reason = "is_default = true";
        } else {
            if (flagged.isEmpty())
                problems.add("locking.providers registers " + addresses(registrations)
                        + " and none has is_default = true; set is_default = true on the one calls use by default");
            else
                problems.add("locking.providers has several registrations with is_default = true: " + addresses(flagged)
                        + "; flag exactly one");
            return empty();
        }
        List<ProviderInfo> infos = new ArrayList<>();
        for (Registration r : registrations) {
            boolean isDefault = r == chosen;
            infos.add(new ProviderInfo(
                    r.id,
                    r.address(),
                    r.identifier,
                    r.description,
                    isDefault,
                    isDefault ? reason : "not the default; calls reach it with provider(\"" + r.address() + "\")"));
        }
        return new Selection(List.copyOf(registrations), chosen, routes, List.copyOf(infos));
    }

    /** {@code lp_<id>} and {@code <id>} always; {@code lp_<identifier>} and {@code <identifier>} when unambiguous. */
    private static Map<String, Registration> routes(List<Registration> registrations) {
        Map<String, Registration> routes = new LinkedHashMap<>();
        Map<String, List<Registration>> byIdentifier = new LinkedHashMap<>();
        for (Registration r : registrations) {
            routes.put(r.address(), r);
            routes.put(r.id, r);
            byIdentifier.computeIfAbsent(r.identifier, k -> new ArrayList<>()).add(r);
        }
        byIdentifier.forEach((identifier, regs) -> {
            if (regs.size() == 1) {
                routes.putIfAbsent(identifier, regs.get(0));
                routes.putIfAbsent("lp_" + identifier, regs.get(0));
            }
        });
        return Map.copyOf(routes);
    }

    /** Creates each provider; on any failure closes the ones already open and reports every problem. */
    static void open(List<Registration> registrations) {
        List<String> problems = new ArrayList<>();
        List<Registration> opened = new ArrayList<>();
        RuntimeException failure = null;
        for (Registration r : registrations) {
            try {
                r.open();
                opened.add(r);
            } catch (LockingConfigurationException e) {
                problems.addAll(e.problems());
            } catch (RuntimeException e) {
                failure = new LockingException("Could not start locking provider " + r + ": " + e.getMessage(), e);
                break;
            }
        }
        if (failure == null && problems.isEmpty()) return;
        for (Registration r : opened) {
            try {
                r.provider().close();
            } catch (RuntimeException e) {
                log.warn("Closing {} after a failed start failed", r, e);
            }
        }
        if (failure != null) throw failure;
        throw new LockingConfigurationException(problems);
    }

    private static String addresses(List<Registration> registrations) {
        return String.join(
                ", ", registrations.stream().map(Registration::address).toList());
    }

    private static Selection empty() {
        return new Selection(List.of(), null, Map.of(), List.of());
    }
}
