package dev.locking.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the configuration the way docs/cli.md documents it: {@code --config FILE}, else the file in
 * {@code LOCKING_CONFIG}, else {@code application.conf} in the working directory, else what {@code
 * ConfigFactory.load()} finds on the classpath. A file, once named, must exist: a typo in a path
 * must not silently fall back to in-memory locks.
 */
final class ConfigLookup {
    static final String VARIABLE = "LOCKING_CONFIG";

    /**
     * @param config the configuration, with system-property overrides and every jar's reference.conf
     * @param source where it came from, in words for the user
     * @param providersConfigured whether it has a {@code locking.providers} list
     */
    record Loaded(Config config, String source, boolean providersConfigured) {}

    private ConfigLookup() {}

    static Loaded load(Path option, CliEnvironment environment) {
        if (option != null) return parse(environment.resolve(option), "--config");
        var variable = environment.variable(VARIABLE);
        if (variable.isPresent()) return parse(environment.resolve(Path.of(variable.get())), "$" + VARIABLE);
        Path local = environment.resolve(Path.of("application.conf"));
        if (Files.isRegularFile(local)) return parse(local, "the working directory");
        ConfigFactory.invalidateCaches();
        Config config = ConfigFactory.load();
        boolean onClasspath = ConfigLookup.class.getClassLoader().getResource("application.conf") != null;
        return loaded(
                config,
                onClasspath
                        ? "application.conf on the classpath"
                        : "none (no --config, no $" + VARIABLE + ", no ./application.conf)");
    }

    private static Loaded parse(Path file, String via) {
        if (!Files.exists(file))
            throw new UsageException("configuration file " + file + " (from " + via + ") does not exist");
        if (!Files.isRegularFile(file) || !Files.isReadable(file))
            throw new UsageException("configuration file " + file + " (from " + via + ") is not a readable file");
        Config parsed = ConfigFactory.parseFile(
                file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
        ConfigFactory.invalidateCaches();
        return loaded(ConfigFactory.load(parsed), file + " (from " + via + ")");
    }

    private static Loaded loaded(Config config, String source) {
        return new Loaded(config, source, config.hasPath("locking.providers"));
    }
}
