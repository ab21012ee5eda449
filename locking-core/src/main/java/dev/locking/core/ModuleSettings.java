package dev.locking.core;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.locking.api.LockOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The {@code locking} block, read and checked eagerly. Every problem is collected; the caller
 * throws them together, so a user fixes a configuration in one round.
 */
final class ModuleSettings {
    /** {@code is-default} is the spelling of Spring and of the other kebab-case keys; both are accepted. */
    private static final Set<String> REGISTRATION_KEYS = Set.of("resolve", "id", "is_default", "is-default", "options");

    /** One entry of {@code locking.providers}. */
    record RegistrationSpec(String path, String resolve, String id, boolean isDefault, Config options) {}

    final Config root;
    final boolean providersConfigured;
    final List<RegistrationSpec> registrations = new ArrayList<>();
    final Duration executeTimeout;
    final Duration executeExpire;
    final int renewalThreads;
    final boolean migrateOnStart;
    final Duration shutdownTimeout;

    ModuleSettings(Config config, List<String> problems) {
        Config reference = ConfigFactory.defaultReference(ModuleSettings.class.getClassLoader());
        this.root = config.withFallback(reference);
        UnknownKeys.check(config, reference, problems);
        this.executeTimeout = atMost(duration("locking.execute.timeout", problems, true), LockOptions.MAX_TIMEOUT);
        this.executeExpire = expire("locking.execute.expire", problems);
        this.renewalThreads = positiveInt("locking.renewal-threads", problems);
        this.migrateOnStart = bool(root, "locking.migrate-on-start", false, problems);
        this.shutdownTimeout = atMost(duration("locking.shutdown-timeout", problems, true), LockOptions.MAX_TIMEOUT);
        this.providersConfigured = readRegistrations(problems);
    }

    private boolean readRegistrations(List<String> problems) {
        if (!root.hasPath("locking.providers")) return false;
        List<? extends ConfigValue> list;
        try {
            list = root.getList("locking.providers");
        } catch (ConfigException.WrongType e) {
            problems.add("locking.providers must be a list of { resolve, id, is_default, options } objects");
            return true;
        }
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String path = "locking.providers[" + i + "]";
            ConfigValue value = list.get(i);
            if (value.valueType() != ConfigValueType.OBJECT) {
                problems.add(path + " must be an object { resolve, id, is_default, options }, was "
                        + value.valueType().name().toLowerCase());
                continue;
            }
            Config entry = ((ConfigObject) value).toConfig();
            Set<String> unknown = new TreeSet<>(((ConfigObject) value).keySet());
            unknown.removeAll(REGISTRATION_KEYS);
            if (!unknown.isEmpty())
                problems.add(path + " has unknown keys " + unknown
                        + "; allowed: resolve, id, is_default (or is-default), options");
            String resolve = text(entry, "resolve", path, problems);
            if (resolve == null && !entry.hasPath("resolve"))
                problems.add(path + ".resolve is missing: name the provider identifier, e.g. \"locking-postgres\"");
            String id = entry.hasPath("id") ? text(entry, "id", path, problems) : resolve;
            if (id != null && !id.matches("[A-Za-z0-9][A-Za-z0-9._-]*"))
                problems.add(path + ".id = \"" + id
                        + "\" must start with a letter or digit and hold only letters, digits, '.', '_' and '-'");
            else if (id != null && !ids.add(id))
                problems.add(path + ".id = \"" + id + "\" is a duplicate: each registration needs its own id");
            boolean isDefault = isDefault(entry, path, problems);
            Config options = ConfigFactory.empty();
            if (entry.hasPath("options")) {
                try {
                    options = entry.getConfig("options");
                } catch (ConfigException.WrongType e) {
                    problems.add(path + ".options must be an object");
                }
            }
            if (resolve != null && id != null)
                registrations.add(new RegistrationSpec(path, resolve, id, isDefault, options));
        }
        return true;
    }

    private static boolean isDefault(Config entry, String path, List<String> problems) {
        boolean snake = bool(entry, "is_default", false, problems, path);
        boolean kebab = bool(entry, "is-default", false, problems, path);
        if (entry.hasPath("is_default") && entry.hasPath("is-default") && snake != kebab)
            problems.add(path + ".is_default = " + snake + " and " + path + ".is-default = " + kebab
                    + " disagree; set one of them");
        return snake || kebab;
    }

    /** The jar's defaults for {@code identifier} under the registration's options, as plain values. */
    Map<String, Object> optionsFor(RegistrationSpec spec) {
        String defaultsPath = ConfigUtil.joinPath("locking", "provider-defaults", spec.resolve());
        Config defaults = root.hasPath(defaultsPath) ? root.getConfig(defaultsPath) : ConfigFactory.empty();
        return spec.options().withFallback(defaults).resolve().root().unwrapped();
    }

    private Duration duration(String path, List<String> problems, boolean zeroAllowed) {
        try {
            Duration d = root.getDuration(path);
            if (d.isNegative() || (!zeroAllowed && d.isZero())) {
                problems.add(path + " must be " + (zeroAllowed ? "zero or positive" : "positive") + ", was " + d);
                return Duration.ofSeconds(1);
            }
            return d;
        } catch (ConfigException e) {
            problems.add(path + " must be a duration such as 5s or 500ms: " + e.getMessage());
            return Duration.ofSeconds(1);
        }
    }

    /** As {@link LockOptions#expire}: positive, at most {@link LockOptions#MAX_EXPIRE}. */
    private Duration expire(String path, List<String> problems) {
        Duration d = duration(path, problems, false);
        if (d.compareTo(LockOptions.MAX_EXPIRE) <= 0) return d;
        problems.add(path + " must be at most " + LockOptions.MAX_EXPIRE.toDays() + " days, was " + d);
        return LockOptions.MAX_EXPIRE;
    }

    /** As {@link LockOptions#timeout}: a longer wait is as good as forever and lowered to the bound. */
    private static Duration atMost(Duration d, Duration bound) {
        return d.compareTo(bound) > 0 ? bound : d;
    }

    private int positiveInt(String path, List<String> problems) {
        try {
            int n = root.getInt(path);
            if (n >= 1) return n;
            problems.add(path + " must be 1 or more, was " + n);
        } catch (ConfigException e) {
            problems.add(path + " must be a whole number: " + e.getMessage());
        }
        return 1;
    }

    private static boolean bool(Config config, String key, boolean fallback, List<String> problems) {
        return bool(config, key, fallback, problems, null);
    }

    private static boolean bool(Config config, String key, boolean fallback, List<String> problems, String prefix) {
        if (!config.hasPath(key)) return fallback;
        try {
            return config.getBoolean(key);
        } catch (ConfigException.WrongType e) {
            problems.add((prefix == null ? "" : prefix + ".") + key + " must be true or false");
            return fallback;
        }
    }

    private static String text(Config entry, String key, String path, List<String> problems) {
        if (!entry.hasPath(key)) return null;
        try {
            String value = entry.getString(key);
            if (value.isBlank()) {
                problems.add(path + "." + key + " must not be blank");
                return null;
            }
            return value.trim();
        } catch (ConfigException.WrongType e) {
            problems.add(path + "." + key + " must be a string");
            return null;
        }
    }
}
