package dev.locking.postgres;

import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * The provider's schema, managed by Flyway in its own location and its own history table, so the
 * application's {@code flyway_schema_history} is never read or written.
 */
final class PostgresMigrations {
    static final String LOCATION = "classpath:db/migration/locking/postgres";
    static final String HISTORY_TABLE = "locking_schema_history";

    private PostgresMigrations() {}

    /** Applies what is pending; one line per migration applied now. */
    static List<String> migrate(DataSource dataSource, String schema) {
        Flyway flyway = Flyway.configure(PostgresMigrations.class.getClassLoader())
                .dataSource(dataSource)
                .schemas(schema)
                .createSchemas(true)
                .table(HISTORY_TABLE)
                .locations(LOCATION)
                // The application's schema is usually not empty: start our history at 0 there
                // instead of refusing, so V1 onwards still runs.
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .baselineDescription("locking schema history started")
                .load();
        MigrateResult result = flyway.migrate();
        return result.migrations.stream()
                .map(m -> "locking-postgres: " + schema + " V" + m.version + " " + m.description + " ("
                        + m.executionTime + " ms)")
                .toList();
    }
}
