package dev.locking.cli;

import com.typesafe.config.ConfigException;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockingConfigurationException;
import dev.locking.api.LockingException;
import dev.locking.api.UnknownProviderException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Turns what a command threw into an exit code and one line on stderr. The stack trace is for
 * {@code --verbose}: an operator whose store is down needs the sentence that says so, not forty
 * lines of pool internals.
 */
final class Failures implements IExecutionExceptionHandler, IParameterExceptionHandler {

    /** The exit code for {@code failure}, see {@link ExitCodes}. */
    static int exitCode(Throwable failure) {
        if (failure instanceof LockAcquisitionException) return ExitCodes.NOT_DONE;
        if (failure instanceof LockingConfigurationException
                || failure instanceof UnknownProviderException
                || failure instanceof UsageException
                || failure instanceof IllegalArgumentException
                || failure instanceof ConfigException
                || failure instanceof UnsupportedOperationException) return ExitCodes.USAGE;
        if (failure instanceof LockingException) return ExitCodes.STORE;
        return ExitCodes.INTERNAL;
    }

    /** The line that tells the user what went wrong, without the tool's prefix. */
    static String describe(Throwable failure) {
        String message = failure.getMessage() == null ? failure.toString() : failure.getMessage();
        return switch (exitCode(failure)) {
            case ExitCodes.STORE -> (unreachable(failure) ? "store unreachable: " : "store error: ") + message;
            case ExitCodes.INTERNAL -> "internal error: " + failure;
            default -> {
                if (failure instanceof IllegalArgumentException) yield "invalid argument: " + message;
                if (failure instanceof ConfigException) yield "bad configuration: " + message;
                yield message;
            }
        };
    }

    /**
     * {@link #describe} as it is printed for people: escaped ({@link Terminal}), a store's message
     * folded into one line, and each problem of a configuration error on a line of its own.
     */
    static String printable(Throwable failure) {
        if (exitCode(failure) == ExitCodes.STORE) return Terminal.text(oneLine(describe(failure)));
        if (failure instanceof LockingConfigurationException config
                && config.problems().size() > 1) {
            StringBuilder sb = new StringBuilder(
                    "Invalid locking configuration (" + config.problems().size() + " problems):");
            for (String problem : config.problems())
                sb.append(System.lineSeparator()).append("  - ").append(Terminal.text(problem));
            return sb.toString();
        }
        return Terminal.text(describe(failure));
    }

    /** True when a cause says the store could not be connected to, rather than that it answered with an error. */
    static boolean unreachable(Throwable failure) {
        // A server that refused the connection (too many clients, a wrong password, no such database)
        // answered: its SQL state is not of class 08, the class of connections that failed.
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof SQLException sql
                    && sql.getSQLState() != null
                    && !sql.getSQLState().startsWith("08")) return false;
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ConnectException
                    || t instanceof NoRouteToHostException
                    || t instanceof UnknownHostException
                    || t instanceof SocketTimeoutException
                    || t instanceof SQLTransientConnectionException) return true;
            if (t instanceof SQLException sql
                    && sql.getSQLState() != null
                    && sql.getSQLState().startsWith("08")) return true;
            // Jedis is not a dependency of this class; its connection failures are recognised by name.
            if (t.getClass().getSimpleName().equals("JedisConnectionException")) return true;
            if (t instanceof UncheckedIOException || t instanceof IOException) return true;
            if (t.getCause() == t) break;
        }
        return false;
    }

    /** Prints {@code failure} as one line (and its stack trace when verbose) and returns its exit code. */
    static int report(Throwable failure, PrintWriter err, boolean verbose) {
        int code = exitCode(failure);
        err.println("locking: " + printable(failure));
        if (verbose) {
            StringWriter trace = new StringWriter();
            failure.printStackTrace(new PrintWriter(trace));
            err.print(Terminal.lines(trace.toString()));
        } else if (code == ExitCodes.INTERNAL) err.println("locking: run again with --verbose for the stack trace");
        err.flush();
        return code;
    }

    /**
     * A store's message on one line: drivers and Flyway put SQL states and separator rules on lines
     * of their own, which would turn "the store is down" into a paragraph.
     */
    static String oneLine(String message) {
        StringBuilder sb = new StringBuilder();
        for (String part : message.split("\\R")) {
            String p = part.strip();
            if (p.isEmpty() || p.chars().allMatch(c -> c == '-' || c == '=')) continue;
            if (sb.length() > 0) sb.append(p.startsWith(".") ? "" : "; ");
            sb.append(p);
        }
        return sb.toString().replaceAll("\\s+", " ");
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine commandLine, ParseResult parseResult) {
        boolean verbose = commandLine.getCommand() instanceof BaseCommand command && command.verbose();
        return report(ex, commandLine.getErr(), verbose);
    }

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        // An argument that did not decode is the cause to name, whatever picocli made of it.
        var undecodable = UndecodableArguments.problem(cmd.getCommandSpec().root(), args);
        if (undecodable.isPresent()) {
            err.println("locking: " + undecodable.get());
            err.flush();
            return ExitCodes.USAGE;
        }
        err.println("locking: " + Terminal.text(ex.getMessage()));
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
        err.flush();
        return ExitCodes.USAGE;
    }
}
