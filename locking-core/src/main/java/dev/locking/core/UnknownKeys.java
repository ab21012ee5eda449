package dev.locking.core;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Finds keys under {@code locking} that nothing reads, such as {@code locking.exeucte.timeout} or
 * {@code locking.migrate_on_start}: a misspelt key would otherwise leave its default in force
 * without a word.
 *
 * <p>The known keys are those of the merged {@code reference.conf} of every jar on the classpath
 * (core's, each provider's, any integration's), so a jar that adds a module-level key declares it
 * where it documents its default. Two subtrees are checked elsewhere: {@code providers} (each
 * registration's keys) and {@code provider-defaults} (each provider checks its own options).
 */
final class UnknownKeys {
    private static final String ROOT = "locking";
    /** Not in reference.conf (no default), read by {@link ModuleSettings}. */
    private static final Set<String> UNDECLARED = Set.of("providers");
    /** Subtrees whose keys belong to each provider, which rejects the ones it does not know. */
    private static final Set<String> PROVIDERS_OWN = Set.of("provider-defaults");

    private UnknownKeys() {}

    /** Adds one problem per key of {@code config} under {@code locking} that {@code reference} does not declare. */
    static void check(Config config, Config reference, List<String> problems) {
        if (!config.hasPath(ROOT)) return;
        if (config.getValue(ROOT).valueType() != ConfigValueType.OBJECT) {
            problems.add(ROOT + " must be an object, e.g. locking { providers = [...] }");
            return;
        }
        ConfigObject known = reference.hasPath(ROOT)
                ? reference.getObject(ROOT)
                : ConfigFactory.empty().root();
        List<String> knownLeaves = new ArrayList<>();
        for (Map.Entry<String, ConfigValue> e : known.entrySet())
            if (PROVIDERS_OWN.contains(e.getKey())) knownLeaves.add(ROOT + "." + e.getKey());
            else leaves(ROOT + "." + ConfigUtil.joinPath(e.getKey()), e.getValue(), knownLeaves);
        UNDECLARED.forEach(k -> knownLeaves.add(ROOT + "." + k));
        walk(ROOT, config.getObject(ROOT), known, knownLeaves, problems, true);
    }

    private static void walk(
            String path,
            ConfigObject given,
            ConfigObject known,
            List<String> knownLeaves,
            List<String> problems,
            boolean top) {
        for (Map.Entry<String, ConfigValue> entry : new TreeMap<>(given).entrySet()) {
            String key = entry.getKey();
            String childPath = path + "." + ConfigUtil.joinPath(key);
            if (top && (UNDECLARED.contains(key) || PROVIDERS_OWN.contains(key))) continue;
            ConfigValue declared = known.get(key);
            ConfigValue value = entry.getValue();
            if (declared == null) {
                List<String> unknown = new ArrayList<>();
                leaves(childPath, value, unknown);
                for (String leaf : unknown) problems.add(describe(leaf, knownLeaves));
            } else if (declared.valueType() == ConfigValueType.OBJECT && value.valueType() == ConfigValueType.OBJECT) {
                walk(childPath, (ConfigObject) value, (ConfigObject) declared, knownLeaves, problems, false);
            }
            // A declared key with a value of the wrong type is reported by the code that reads it.
        }
    }

    /** The path of every value under {@code value}; an empty object counts as one. */
    private static void leaves(String path, ConfigValue value, List<String> out) {
        if (value.valueType() == ConfigValueType.OBJECT && !((ConfigObject) value).isEmpty()) {
            for (Map.Entry<String, ConfigValue> e : ((ConfigObject) value).entrySet())
                leaves(path + "." + ConfigUtil.joinPath(e.getKey()), e.getValue(), out);
        } else {
            out.add(path);
        }
    }

    private static String describe(String unknown, List<String> knownLeaves) {
        String near = nearest(unknown, knownLeaves);
        if (near != null) return unknown + " is not a known key; did you mean " + near + "?";
        Set<String> sorted = new TreeSet<>(knownLeaves);
        return unknown + " is not a known key; known keys: " + String.join(", ", sorted)
                + " (provider options go in a registration's options { })";
    }

    /** The known key this is most likely a misspelling of, or null when none is close. */
    static String nearest(String unknown, List<String> knownLeaves) {
        String target = normal(unknown);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : knownLeaves) {
            int d = distance(target, normal(candidate));
            if (d < bestDistance) {
                best = candidate;
                bestDistance = d;
            }
        }
        // Close: a different separator or case, or a slip of a few characters in a long key.
        int allowed = Math.max(2, target.length() / 6);
        return bestDistance <= allowed ? best : null;
    }

    /** Separators and case folded: migrate_on_start, migrateOnStart and migrate-on-start are one. */
    private static String normal(String path) {
        return path.toLowerCase(Locale.ROOT).replace("_", "").replace("-", "");
    }

    /** Edit distance where swapping two neighbouring characters is one edit (optimal string alignment). */
    private static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) d[i][0] = i;
        for (int j = 0; j <= b.length(); j++) d[0][j] = j;
        for (int i = 1; i <= a.length(); i++)
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1))
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
            }
        return d[a.length()][b.length()];
    }
}
