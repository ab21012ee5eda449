package dev.locking.spi;

/**
 * What a provider jar advertises in {@code META-INF/services/dev.locking.spi.LockingProviderFactory}.
 *
 * <p>Discovery only instantiates factories, so a factory's constructor must be cheap and must not
 * open connections: those belong in {@link #create(ProviderContext)}, which runs once per
 * configured registration.
 */
public interface LockingProviderFactory {

    /** The identifier configuration names in {@code resolve}, e.g. {@code "locking-postgres"}. */
    String identifier();

    /** One line for the start-up log and the CLI, e.g. "PostgreSQL advisory locks". */
    default String description() {
        return identifier();
    }

    /**
     * Opens a provider for one registration. Reads and validates every option at once and throws
     * {@link dev.locking.api.LockingConfigurationException} naming each bad key by its full path
     * ({@link ProviderContext#optionsPath()}). A store that cannot be reached yet is not a
     * configuration error: calls fail later with a {@link dev.locking.api.LockingException}.
     */
    LockingProvider create(ProviderContext context);
}
