package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Runs {@code locking} commands in-process, as a shell would, with captured stdout and stderr. */
final class Cli {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, String> variables;
    private final Path workingDirectory;

    Cli(Path workingDirectory) {
        this(Map.of(), workingDirectory);
    }

    Cli(Map<String, String> variables, Path workingDirectory) {
        this.variables = variables;
        this.workingDirectory = workingDirectory;
    }

    /** What one command did. */
    record Result(List<String> args, int exitCode, String out, String err) {

        /** Fails with the whole output when the exit code is not {@code expected}. */
        Result expect(int expected) {
            assertEquals(expected, exitCode, () -> "locking " + String.join(" ", args) + "\n" + this);
            return this;
        }

        /** stdout parsed by a strict JSON parser; fails when it is not exactly one JSON document. */
        JsonNode json() {
            try {
                return JSON.readTree(out);
            } catch (IOException e) {
                return fail("stdout is not JSON: " + e.getMessage() + "\n" + this);
            }
        }

        List<String> errLines() {
            return err.lines().toList();
        }

        @Override
        public String toString() {
            return "exit code " + exitCode + "\n--- stdout\n" + out + "--- stderr\n" + err + "---";
        }
    }

    Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var commandLine = LockingCli.commandLine(new CliEnvironment(variables, workingDirectory, false));
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        int code = commandLine.execute(args);
        return new Result(Arrays.asList(args), code, out.toString(), err.toString());
    }
}
