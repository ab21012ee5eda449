package dev.locking.postgres;

import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * The provider's schema, managed by Flyway apart from the application's own migrations, so that the
 * two never meet whichever runs first (docs/providers-postgres-migrations.md):
 *
 * <ul>
 *   <li>the scripts lie outside {@code db/migration}, the default location of Flyway and of Spring
 *       Boot, which Flyway scans with every folder under it;
 *   <li>the history is a table of its own, {@value #HISTORY_TABLE}, in the provider's schema, so the
 *       application's {@code flyway_schema_history} is never read or written;
 *   <li>the objects live in a schema of their own ({@code locking} unless configured), so the
 *       application's schema stays empty for an application Flyway that runs afterwards and refuses a
 *       non-empty schema without a history table.
 * </ul>
 */
final class PostgresMigrations {
    static final String LOCATION = "classpath:dev/locking/postgres/migration";
    static final String HISTORY_TABLE = "locking_schema_history";

    private PostgresMigrations() {}

    /** Applies what is pending; one line per migration applied now. */
    static List<String> migrate(DataSource dataSource, String schema) {
        Flyway flyway = configure(dataSource, schema).load();
        MigrateResult result = flyway.migrate();
        return result.migrations.stream()
                .map(m -> "locking-postgres: " + schema + " V" + m.version + " " + m.description + " ("
                        + m.executionTime + " ms)")
                .toList();
    }

    /** Flyway's configuration for the provider's schema; the documentation lists the same settings. */
    static FluentConfiguration configure(DataSource dataSource, String schema) {
        return Flyway.configure(PostgresMigrations.class.getClassLoader())
                .dataSource(dataSource)
                .schemas(schema)
                .createSchemas(true)
                .table(HISTORY_TABLE)
                .locations(LOCATION)
                // A schema shared with the application's tables (schema = public, say) is not empty:
                // start our history at 0 there instead of refusing, so V1 still runs.
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .baselineDescription("locking schema history started");
    }
}
