package dev.locking.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every command takes. */
final class CommonOptions {

    @Option(
            names = {"-c", "--config"},
            paramLabel = "FILE",
            description = "HOCON configuration with a locking { providers = [...] } block."
                    + " Default: the file named by $LOCKING_CONFIG, else ./application.conf,"
                    + " else application.conf on the classpath.")
    Path config;

    @Option(
            names = "--json",
            description = "Print one JSON object on stdout instead of tables (errors still go to stderr).")
    boolean json;

    @Option(
            names = {"-v", "--verbose"},
            description = "Log what the library does (to stderr) and print the stack trace of an error.")
    boolean verbose;

    @Option(
            names = {"-h", "--help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;
}
