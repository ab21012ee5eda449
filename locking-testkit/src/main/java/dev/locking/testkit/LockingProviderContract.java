package dev.locking.testkit;

import dev.locking.core.LockingModule;

/**
 * The contract every provider passes. A provider's test extends it and supplies {@link
 * #newModule()}: a module whose default provider is the one under test.
 */
public abstract class LockingProviderContract {

    /** A fresh module whose default provider is the one under test; the kit closes it after each test. */
    protected abstract LockingModule newModule();

    /**
     * True when two modules from {@link #newModule()} share one store, as two application
     * instances would (PostgreSQL, Redis); false for process-local stores.
     */
    protected boolean modulesShareStore() {
        return true;
    }
}
