package dev.locking.postgres;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Properties;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * The provider's schema, managed by Flyway apart from the application's own migrations, so that the
 * two never meet whichever runs first (docs/postgres.md#migrations):
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

    /**
     * Why Flyway cannot run here, or null. Flyway's PostgreSQL support is a jar of its own that only
     * works with the flyway-core of the same version: an application that manages flyway-core alone
     * (an older one, say) gets this provider's flyway-database-postgresql beside it, and Flyway then
     * fails inside migrate with a NoSuchMethodError.
     */
    static String incompatibility(ClassLoader loader) {
        String core = version(loader, "flyway-core");
        String postgres = version(loader, "flyway-database-postgresql");
        if (core == null || postgres == null || core.equals(postgres)) return null;
        return "flyway-core " + core + " and flyway-database-postgresql " + postgres + " are on the class path;"
                + " Flyway needs both at the same version. Declare org.flywaydb:flyway-database-postgresql:" + core
                + " next to flyway-core (or manage both with one version property)";
    }

    /** The version of one of Flyway's jars, from its Maven metadata; null when it cannot be read. */
    static String version(ClassLoader loader, String artifact) {
        try (InputStream in =
                loader.getResourceAsStream("META-INF/maven/org.flywaydb/" + artifact + "/pom.properties")) {
            if (in == null) return null;
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (IOException e) {
            return null;
        }
    }

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
