package dev.locking.testkit;

import com.typesafe.config.ConfigFactory;
import dev.locking.core.LockingModule;

/** The reference provider passes the whole contract with no server. */
class InMemoryProviderContractTest extends LockingProviderContract {

    @Override
    protected LockingModule newModule() {
        return LockingModule.create(
                ConfigFactory.parseString("locking.providers = [{ resolve = \"in-memory\", id = \"memory\" }]"));
    }

    /** Each registration has its own process-local store. */
    @Override
    protected boolean modulesShareStore() {
        return false;
    }
}
