package dev.locking.postgres;

import dev.locking.spi.LockingProvider;
import dev.locking.spi.LockingProviderFactory;
import dev.locking.spi.ProviderContext;

/**
 * Identifier {@code locking-postgres}: locks in a table of the application's PostgreSQL database.
 * Options are documented in this jar's {@code reference.conf} under {@code
 * locking.provider-defaults.locking-postgres}. Discovery only instantiates this class; the pool and
 * the listener connection open in {@link #create}.
 */
public final class PostgresLockingProviderFactory implements LockingProviderFactory {
    /** The identifier a registration names in {@code resolve}. */
    public static final String IDENTIFIER = "locking-postgres";

    @Override
    public String identifier() {
        return IDENTIFIER;
    }

    @Override
    public String description() {
        return "PostgreSQL: a Flyway-migrated locking table serialised by transaction-scoped advisory locks";
    }

    @Override
    public LockingProvider create(ProviderContext context) {
        PostgresSettings settings = PostgresSettings.parse(
                context.options(), context.optionsPath(), context.dataSource().isPresent());
        PostgresLockingProvider table = new PostgresLockingProvider(
                context.registrationId(), settings, context.dataSource(), context::keyReleased, context::granted);
        if (settings.mode == PostgresSettings.Mode.TABLE) return table;
        try {
            return new PostgresSessionLockingProvider(
                    context.registrationId(),
                    settings,
                    context.dataSource(),
                    context::keyReleased,
                    context::granted,
                    table);
        } catch (RuntimeException e) {
            table.close();
            throw e;
        }
    }
}
