package dev.locking.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/** The {@code locking} command: operate dev.locking locks from a shell, and see what they are for. */
@Command(
        name = "locking",
        mixinStandardHelpOptions = true,
        versionProvider = LockingCli.Version.class,
        description = {
            "Distributed locks from the command line: see the configured providers, migrate their stores, take,"
                    + " release and list locks, run the oversell demo, and load-test a store.",
            "",
            "Configuration is the same HOCON the library reads: --config FILE, else the file named by"
                    + " $LOCKING_CONFIG, else ./application.conf, else application.conf on the classpath."
        },
        subcommands = {
            ProvidersCommand.class,
            MigrateCommand.class,
            AcquireCommand.class,
            ReleaseCommand.class,
            ReleaseAllCommand.class,
            LocksCommand.class,
            DemoCommand.class,
            BenchCommand.class,
            CommandLine.HelpCommand.class
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:done",
            "1:lock not acquired, or not released (demo: a locked run did not sell exactly the stock)",
            "2:usage or configuration error (nothing was tried against a store)",
            "3:store unreachable, or it failed the call",
            "4:internal error: please report it with the output of --verbose"
        },
        footer = {"", "Run 'locking COMMAND --help' for the options of a command."})
public final class LockingCli implements Runnable {

    private final CliEnvironment environment;

    @Spec
    CommandSpec spec;

    LockingCli(CliEnvironment environment) {
        this.environment = environment;
    }

    CliEnvironment environment() {
        return environment;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing command; 'locking --help' lists them");
    }

    /** The tool, ready to {@link CommandLine#execute execute}; tests set its out and err writers. */
    public static CommandLine commandLine(CliEnvironment environment) {
        Failures failures = new Failures();
        CommandLine commandLine = new CommandLine(new LockingCli(environment));
        commandLine.setExecutionExceptionHandler(failures);
        commandLine.setParameterExceptionHandler(failures);
        commandLine.setExecutionStrategy(LockingCli::refuseUndecodableArguments);
        commandLine.setUsageHelpAutoWidth(true);
        return commandLine;
    }

    /** Runs the command the arguments name, unless one of them did not decode ({@link UndecodableArguments}). */
    private static int refuseUndecodableArguments(ParseResult parseResult) {
        CommandSpec root = parseResult.commandSpec().root();
        var problem =
                UndecodableArguments.problem(root, parseResult.originalArgs().toArray(String[]::new));
        if (problem.isEmpty()) return new CommandLine.RunLast().execute(parseResult);
        var err = root.commandLine().getErr();
        err.println("locking: " + problem.get());
        err.flush();
        return ExitCodes.USAGE;
    }

    public static void main(String[] args) {
        int code = commandLine(CliEnvironment.system()).execute(args);
        System.exit(code);
    }

    /** The version in the jar's manifest. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = LockingCli.class.getPackage().getImplementationVersion();
            return new String[] {
                "locking " + (version == null ? "(development build)" : version),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"
            };
        }
    }
}
