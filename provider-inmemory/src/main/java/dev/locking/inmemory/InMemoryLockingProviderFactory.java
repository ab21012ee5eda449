package dev.locking.inmemory;

import dev.locking.api.LockingConfigurationException;
import dev.locking.spi.LockingProvider;
import dev.locking.spi.LockingProviderFactory;
import dev.locking.spi.ProviderContext;
import java.util.List;

/** Advertises the {@code in-memory} provider: process-local locks, no options. */
public final class InMemoryLockingProviderFactory implements LockingProviderFactory {

    /** The identifier configuration names in {@code resolve}. */
    public static final String IDENTIFIER = "in-memory";

    @Override
    public String identifier() {
        return IDENTIFIER;
    }

    @Override
    public String description() {
        return "process-local locks (do not cross processes)";
    }

    @Override
    public LockingProvider create(ProviderContext context) {
        if (!context.options().isEmpty())
            throw new LockingConfigurationException(List.of(context.optionsPath() + " has keys "
                    + context.options().keySet() + ", but the in-memory provider takes no options"));
        return new InMemoryLockingProvider(context::keyReleased);
    }
}
