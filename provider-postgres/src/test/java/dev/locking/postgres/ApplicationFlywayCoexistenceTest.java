package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An application that runs its own Flyway on Flyway's defaults (which are Spring Boot's too:
 * {@code classpath:db/migration}, {@code flyway_schema_history} in the connection's default schema)
 * and the provider's {@code migrate()} on one database, in either order. Each test has a database of
 * its own, so the application's default schema ({@code public}) starts empty as in a new
 * application. The application's scripts are on its own class path (a class loader over a
 * temporary folder, in front of this module's), so Flyway scans the provider's jar exactly as it
 * would in the application.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ApplicationFlywayCoexistenceTest {
    private static final PostgresServer server = PostgresServer.shared();

    @TempDir
    Path applicationClassPath;

    private String database;
    private String url;

    @BeforeEach
    void createDatabase() {
        database = "t_coexist_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        server.execute("CREATE DATABASE " + database);
        url = "jdbc:postgresql://" + server.host() + ":" + server.port() + "/" + database;
    }

    @AfterEach
    void dropDatabase() {
        server.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
    }

    @ParameterizedTest(name = "application migrations from V{0}, the application''s first: {1}")
    @CsvSource({"1, true", "1, false", "100, true", "100, false"})
    @DisplayName("the application's Flyway on its defaults and migrate() both succeed, in either order, each with"
            + " its own history")
    void applicationFlywayAndMigrateSucceedInEitherOrder(int firstVersion, boolean applicationFirst) throws Exception {
        String script = "V" + firstVersion + "__app_orders.sql";
        Flyway application = applicationFlyway(script, "CREATE TABLE orders (id bigint PRIMARY KEY);");
        if (applicationFirst) {
            assertEquals(1, application.migrate().migrationsExecuted);
            assertEquals(1, migrate().size());
        } else {
            assertEquals(1, migrate().size());
            assertEquals(1, application.migrate().migrationsExecuted);
        }

        assertEquals(
                List.of(firstVersion + " " + script),
                rows("SELECT version || ' ' || script FROM public.flyway_schema_history ORDER BY installed_rank"),
                "the application's history holds its own migrations only");
        assertEquals(
                List.of("1 V1__locking_schema.sql"),
                rows("SELECT version || ' ' || script FROM locking.locking_schema_history WHERE version IS NOT NULL"
                        + " ORDER BY installed_rank"),
                "the provider's history holds its own migrations only");
        assertEquals(
                List.of("flyway_schema_history", "orders"),
                rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"),
                "the provider put nothing in the application's schema");

        // Each again: nothing to do, and the application's Flyway still validates.
        assertEquals(List.of(), migrate());
        assertEquals(0, application.migrate().migrationsExecuted);
        application.validate();

        try (LockingModule module = module()) {
            LockOptions owner = LockOptions.defaults().owner("A");
            module.acquire("coexist", owner);
            assertTrue(module.release("coexist", owner));
        }
    }

    @Test
    @DisplayName("the provider's scripts are not under db/migration, where an application's Flyway would find them")
    void noScriptOfTheProviderIsUnderTheDefaultLocation() throws Exception {
        ClassLoader loader = PostgresMigrations.class.getClassLoader();
        assertTrue(
                !loader.getResources("db/migration").hasMoreElements(),
                "something on this module's class path is under db/migration");
        // An application Flyway with no script of its own finds nothing at all.
        Flyway empty = Flyway.configure(loader)
                .dataSource(url, server.user(), server.password())
                .load();
        assertEquals(0, empty.info().all().length);
    }

    @Test
    @DisplayName("migrate() puts the schema in a schema named locking unless configured, and runs once")
    void migrateUsesTheLockingSchemaByDefaultAndIsIdempotent() throws Exception {
        List<String> applied = migrate();
        assertEquals(1, applied.size(), applied.toString());
        assertTrue(applied.get(0).contains("locking V1"), applied.toString());
        assertEquals(List.of(), migrate());
        assertEquals(
                List.of("locking", "locking_schema_history", "locking_undone", "locking_waiter"),
                rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'locking' ORDER BY 1"));
    }

    @Test
    @DisplayName("flyway-core and flyway-database-postgresql at different versions are named before Flyway runs")
    void mismatchedFlywayJarsAreNamed() throws Exception {
        assertEquals(null, PostgresMigrations.incompatibility(PostgresMigrations.class.getClassLoader()));
        for (String[] jar : new String[][] {{"flyway-core", "11.7.2"}, {"flyway-database-postgresql", "13.12.1"}}) {
            Path folder =
                    Files.createDirectories(applicationClassPath.resolve("META-INF/maven/org.flywaydb/" + jar[0]));
            Files.writeString(folder.resolve("pom.properties"), "groupId=org.flywaydb\nversion=" + jar[1] + "\n");
        }
        try (URLClassLoader mismatched =
                new URLClassLoader(new URL[] {applicationClassPath.toUri().toURL()}, null)) {
            String problem = PostgresMigrations.incompatibility(mismatched);
            assertTrue(
                    problem != null
                            && problem.contains("flyway-core 11.7.2")
                            && problem.contains("flyway-database-postgresql 13.12.1")
                            && problem.contains("org.flywaydb:flyway-database-postgresql:11.7.2"),
                    problem);
        }
    }

    /** The application's Flyway: its defaults, its script on its own class path. */
    private Flyway applicationFlyway(String script, String sql) throws IOException {
        Path folder = Files.createDirectories(applicationClassPath.resolve("db/migration"));
        Files.writeString(folder.resolve(script), sql);
        ClassLoader loader = new URLClassLoader(
                new URL[] {applicationClassPath.toUri().toURL()}, PostgresMigrations.class.getClassLoader());
        return Flyway.configure(loader)
                .dataSource(url, server.user(), server.password())
                .load();
    }

    private Map<String, Object> options() {
        Map<String, Object> options = new HashMap<>();
        options.put("url", url);
        options.put("user", server.user());
        if (server.password() != null) options.put("password", server.password());
        options.put("notifications", "poll");
        return options;
    }

    private LockingModule module() {
        return TestModules.module(options());
    }

    private List<String> migrate() {
        try (LockingModule module = module()) {
            List<String> lines = new ArrayList<>();
            module.migrations().values().forEach(lines::addAll);
            return lines;
        }
    }

    private List<String> rows(String sql) {
        List<String> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, server.user(), server.password());
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) rows.add(rs.getString(1));
        } catch (SQLException e) {
            throw new AssertionError(sql + ": " + e.getMessage(), e);
        }
        return rows;
    }
}
