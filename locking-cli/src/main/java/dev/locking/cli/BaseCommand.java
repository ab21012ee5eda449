package dev.locking.cli;

import dev.locking.api.LockOptions;
import dev.locking.api.UnknownProviderException;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import dev.locking.inmemory.InMemoryLockingProviderFactory;
import java.io.PrintWriter;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** What every command shares: the common options, the configuration lookup, output and logging. */
abstract class BaseCommand implements Callable<Integer> {

    @ParentCommand
    LockingCli cli;

    @Spec
    CommandSpec spec;

    @Mixin
    CommonOptions common;

    private ConfigLookup.Loaded loaded;

    @Override
    public final Integer call() throws Exception {
        CliLogging.configure(err(), common.verbose);
        try {
            return execute();
        } finally {
            out().flush();
            err().flush();
        }
    }

    /** Runs the command; returns its exit code or throws what {@link Failures} maps to one. */
    abstract int execute() throws Exception;

    final boolean verbose() {
        return common != null && common.verbose;
    }

    final boolean json() {
        return common.json;
    }

    final PrintWriter out() {
        return spec.commandLine().getOut();
    }

    final PrintWriter err() {
        return spec.commandLine().getErr();
    }

    final CliEnvironment environment() {
        return cli.environment();
    }

    final ConfigLookup.Loaded configuration() {
        if (loaded == null) {
            loaded = ConfigLookup.load(common.config, environment());
            if (verbose()) err().println("locking: configuration: " + Terminal.text(loaded.source()));
        }
        return loaded;
    }

    /** A module over the configuration; the caller closes it. */
    final LockingModule openModule() {
        return LockingModule.create(configuration().config());
    }

    /**
     * Refuses commands whose effect would die with this process: without {@code
     * locking.providers}, the library falls back to in-memory locks, which live in this JVM only.
     */
    final void requireConfiguredProviders(String what) {
        ConfigLookup.Loaded config = configuration();
        if (!config.providersConfigured())
            throw new UsageException("no locking.providers configured (configuration: " + config.source() + "), so "
                    + what + " would use in-memory locks, which live only inside this `locking` process and"
                    + " vanish when it exits. Point --config (or $" + ConfigLookup.VARIABLE
                    + ", or ./application.conf) at the configuration of the application whose locks you want.");
    }

    /** Warns when the registration a call goes to keeps its locks in this process only. */
    /**
     * Warns when the target's locks end with this process (in-memory; locking-postgres with
     * {@code mode = "session"}): a lock taken here is gone when {@code locking} exits, and locks of
     * other processes are not visible from here.
     */
    final void noteIfProcessBound(LockingModule module, ProviderInfo target) {
        if (target.identifier().equals(InMemoryLockingProviderFactory.IDENTIFIER))
            err().println("locking: note: " + Terminal.text(target.address())
                    + " is an in-memory provider: its locks live only in"
                    + " this process and end when `locking` exits");
        else if (!module.locksOutliveProcess(lockOptions(null, target.address())))
            err().println("locking: note: " + Terminal.text(target.address())
                    + " holds its locks on this process's own server sessions (mode = \"session\"): a lock"
                    + " taken here ends when `locking` exits, and other processes' locks are not listed here");
    }

    /**
     * The registration a call with {@code provider} (null: the default) goes to, as core routes it.
     * Empty when none matches; the call itself then fails with core's message.
     */
    static Optional<ProviderInfo> target(LockingModule module, String provider) {
        try {
            return Optional.of(module.providerFor(lockOptions(null, provider)));
        } catch (UnknownProviderException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The options of a call for {@code owner} (null: anonymous) in {@code provider} (null: the default). */
    static LockOptions lockOptions(String owner, String provider) {
        LockOptions options = LockOptions.defaults();
        if (owner != null) options = options.owner(owner);
        if (provider != null) options = options.provider(provider);
        return options;
    }

    final void printJson(Map<String, ?> object) {
        out().println(Json.write(object));
    }
}
