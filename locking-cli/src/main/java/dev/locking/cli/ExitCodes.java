package dev.locking.cli;

/** The exit codes of every command, as {@code locking --help} and docs/cli.md list them. */
final class ExitCodes {
    /** The command did what it was asked. */
    static final int OK = 0;
    /** A lock was not acquired or not released; the demo: a locked run did not sell exactly the stock. */
    static final int NOT_DONE = 1;
    /** Bad arguments or bad configuration: nothing was tried against a store. */
    static final int USAGE = 2;
    /** The store could not be reached, or failed the call. */
    static final int STORE = 3;
    /** A bug in the tool or the library. */
    static final int INTERNAL = 4;

    private ExitCodes() {}
}
