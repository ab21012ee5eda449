package dev.locking.api;

import java.util.List;

/** The configuration is wrong. Lists every problem found, not just the first. */
public class LockingConfigurationException extends LockingException {
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    public LockingConfigurationException(List<String> problems) {
        super(format(problems));
        this.problems = List.copyOf(problems);
    }

    public LockingConfigurationException(String problem, Throwable cause) {
        super(format(List.of(problem)), cause);
        this.problems = List.of(problem);
    }

    /** Each problem, one sentence each, naming the configuration key. */
    public List<String> problems() {
        return problems;
    }

    private static String format(List<String> problems) {
        if (problems.size() == 1) return "Invalid locking configuration: " + problems.get(0);
        StringBuilder sb = new StringBuilder("Invalid locking configuration (" + problems.size() + " problems):");
        for (String p : problems) sb.append("\n  - ").append(p);
        return sb.toString();
    }
}
