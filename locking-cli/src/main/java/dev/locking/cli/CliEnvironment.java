package dev.locking.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * What the tool reads from the process around it, so tests can run commands in-process with an
 * environment of their own.
 *
 * @param variables environment variables, such as {@code LOCKING_CONFIG}
 * @param workingDirectory where {@code application.conf} is looked for, and relative paths resolve
 * @param interactive whether stderr is a terminal, so progress bars may redraw in place
 */
public record CliEnvironment(Map<String, String> variables, Path workingDirectory, boolean interactive) {

    public CliEnvironment {
        variables = Map.copyOf(variables);
        workingDirectory = workingDirectory.toAbsolutePath().normalize();
    }

    /** The real process: its environment, its working directory, a terminal when there is a console. */
    public static CliEnvironment system() {
        String term = System.getenv("TERM");
        boolean terminal = System.console() != null && !"dumb".equals(term);
        return new CliEnvironment(System.getenv(), Path.of(""), terminal);
    }

    /** A variable's value, when it is set and not blank. */
    Optional<String> variable(String name) {
        String value = variables.get(name);
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
    }

    /** {@code path} against the working directory, unless it is absolute. */
    Path resolve(Path path) {
        return workingDirectory.resolve(path).normalize();
    }
}
