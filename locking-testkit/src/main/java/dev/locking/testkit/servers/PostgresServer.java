package dev.locking.testkit.servers;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

/**
 * A real PostgreSQL for tests, found in the order of {@link ServerDiscovery}: {@code
 * LOCKING_TEST_POSTGRES_URL} (a JDBC URL; user and password as URL parameters or in {@code
 * LOCKING_TEST_POSTGRES_USER} / {@code LOCKING_TEST_POSTGRES_PASSWORD}), a local server on
 * 127.0.0.1:5432 (user postgres, database test), Testcontainers when Docker answers, and an
 * embedded server last (refused in CI).
 *
 * <p>Tests isolate themselves with {@link #newSchema(String)}: a schema of their own, dropped when
 * the JVM exits. {@link #restart()} restarts the server for fault tests and returns once it
 * accepts connections again.
 */
public final class PostgresServer {
    private static final Logger log = LoggerFactory.getLogger(PostgresServer.class);
    private static final String HOW_TO_START = "Start PostgreSQL on 127.0.0.1:5432 with a database \"test\" that user"
            + " postgres can use (Debian: apt-get install -y postgresql && pg_ctlcluster 15 main start && su postgres"
            + " -c 'createdb test'), or set LOCKING_TEST_POSTGRES_URL=jdbc:postgresql://host:port/db?user=..&password=..";
    private static PostgresServer shared;

    private enum Kind {
        ENVIRONMENT,
        LOCAL,
        CONTAINER,
        EMBEDDED
    }

    private final Kind kind;
    private final String host;
    private final int port;
    private final String database;
    private final String user;
    private final String password;
    private final String jdbcUrl;
    private final GenericContainer<?> container;
    private final Path embeddedData;
    private EmbeddedPostgres embedded;
    private final Set<String> schemas = ConcurrentHashMap.newKeySet();

    private PostgresServer(
            Kind kind,
            String host,
            int port,
            String database,
            String user,
            String password,
            String jdbcUrl,
            GenericContainer<?> container,
            EmbeddedPostgres embedded,
            Path embeddedData) {
        this.kind = kind;
        this.host = host;
        this.port = port;
        this.database = database;
        this.user = user;
        this.password = password;
        this.jdbcUrl = jdbcUrl;
        this.container = container;
        this.embedded = embedded;
        this.embeddedData = embeddedData;
        Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "postgres-server-cleanup"));
    }

    /** The one server all tests of this JVM share. */
    public static synchronized PostgresServer shared() {
        if (shared == null) shared = find();
        return shared;
    }

    private static PostgresServer find() {
        if (ServerDiscovery.embeddedForced()) return startEmbedded();
        Optional<String> url = ServerDiscovery.fromEnvironment("LOCKING_TEST_POSTGRES_URL");
        if (url.isPresent()) return fromUrl(url.get());
        if (ServerDiscovery.listening("127.0.0.1", 5432)) {
            PostgresServer local = new PostgresServer(
                    Kind.LOCAL,
                    "127.0.0.1",
                    5432,
                    "test",
                    "postgres",
                    null,
                    "jdbc:postgresql://127.0.0.1:5432/test",
                    null,
                    null,
                    null);
            local.requireReachable("the local server on 127.0.0.1:5432 (user postgres, database test)");
            log.info("PostgreSQL for tests: local server on 127.0.0.1:5432, database test");
            return local;
        }
        if (ServerDiscovery.dockerAvailable()) return startContainer();
        ServerDiscovery.requireEmbeddedAllowed("PostgreSQL", HOW_TO_START);
        return startEmbedded();
    }

    private static PostgresServer fromUrl(String url) {
        if (!url.startsWith("jdbc:postgresql://"))
            throw new IllegalStateException(
                    "LOCKING_TEST_POSTGRES_URL must be a JDBC URL jdbc:postgresql://host:port/db, was " + url);
        URI uri = URI.create(url.substring("jdbc:".length()));
        String user = parameter(uri, "user")
                .or(() -> ServerDiscovery.fromEnvironment("LOCKING_TEST_POSTGRES_USER"))
                .orElse("postgres");
        String password = parameter(uri, "password")
                .or(() -> ServerDiscovery.fromEnvironment("LOCKING_TEST_POSTGRES_PASSWORD"))
                .orElse(null);
        String database = uri.getPath() == null || uri.getPath().length() <= 1
                ? "postgres"
                : uri.getPath().substring(1);
        String base = "jdbc:postgresql://" + uri.getHost() + ":" + (uri.getPort() < 0 ? 5432 : uri.getPort()) + "/"
                + database;
        PostgresServer server = new PostgresServer(
                Kind.ENVIRONMENT,
                uri.getHost(),
                uri.getPort() < 0 ? 5432 : uri.getPort(),
                database,
                user,
                password,
                base,
                null,
                null,
                null);
        server.requireReachable("LOCKING_TEST_POSTGRES_URL");
        log.info("PostgreSQL for tests: {} from LOCKING_TEST_POSTGRES_URL", base);
        return server;
    }

    private static Optional<String> parameter(URI uri, String name) {
        if (uri.getRawQuery() == null) return Optional.empty();
        for (String pair : uri.getRawQuery().split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && pair.substring(0, eq).equals(name))
                return Optional.of(java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return Optional.empty();
    }

    private static PostgresServer startContainer() {
        GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse("postgres:15-alpine"))
                .withEnv("POSTGRES_PASSWORD", "postgres")
                .withEnv("POSTGRES_DB", "test")
                .withExposedPorts(5432)
                .waitingFor(Wait.forLogMessage(".*database system is ready to accept connections.*\\s", 2));
        container.start();
        String host = container.getHost();
        int port = container.getMappedPort(5432);
        log.info("PostgreSQL for tests: Testcontainers postgres:15-alpine on {}:{}", host, port);
        return new PostgresServer(
                Kind.CONTAINER,
                host,
                port,
                "test",
                "postgres",
                "postgres",
                "jdbc:postgresql://" + host + ":" + port + "/test",
                container,
                null,
                null);
    }

    private static PostgresServer startEmbedded() {
        try {
            Path data = Files.createTempDirectory("locking-embedded-pg");
            EmbeddedPostgres pg = embeddedBuilder(data, 0).start();
            int port = pg.getPort();
            log.info("PostgreSQL for tests: embedded server on 127.0.0.1:{}", port);
            return new PostgresServer(
                    Kind.EMBEDDED,
                    "127.0.0.1",
                    port,
                    "postgres",
                    "postgres",
                    null,
                    "jdbc:postgresql://127.0.0.1:" + port + "/postgres",
                    null,
                    pg,
                    data);
        } catch (IOException e) {
            throw new IllegalStateException("Could not start an embedded PostgreSQL. " + HOW_TO_START, e);
        }
    }

    private static EmbeddedPostgres.Builder embeddedBuilder(Path data, int port) {
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                .setDataDirectory(data)
                .setCleanDataDirectory(false)
                .setPGStartupWait(Duration.ofSeconds(30));
        return port > 0 ? builder.setPort(port) : builder;
    }

    /** The JDBC URL of the test database, without credentials. */
    public String jdbcUrl() {
        return jdbcUrl;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    public String database() {
        return database;
    }

    public String user() {
        return user;
    }

    /** The password, or null when the server trusts the user. */
    public String password() {
        return password;
    }

    /** A fresh DataSource on the test database (no pool). */
    public DataSource dataSource() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(jdbcUrl);
        ds.setUser(user);
        if (password != null) ds.setPassword(password);
        ds.setApplicationName("dev.locking tests");
        return ds;
    }

    /**
     * Creates a schema of its own for one test class, dropped (with everything in it) when the JVM
     * exits.
     *
     * @param purpose a few lowercase letters that say what it is for, part of the name
     * @return the schema's name: lowercase, safe to use unquoted
     */
    public String newSchema(String purpose) {
        String clean = purpose.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        if (clean.length() > 30) clean = clean.substring(0, 30);
        String name = "t_" + clean + "_"
                + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        execute("CREATE SCHEMA " + name);
        schemas.add(name);
        return name;
    }

    /** Drops a schema made by {@link #newSchema(String)} now. */
    public void dropSchema(String name) {
        if (schemas.remove(name)) execute("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    }

    /** Runs one administrative statement on the test database. */
    public void execute(String sql) {
        try (Connection c = dataSource().getConnection();
                Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL test fixture: \"" + sql + "\" failed: " + e.getMessage(), e);
        }
    }

    /**
     * Kills (pg_terminate_backend) every session whose application_name starts with {@code
     * applicationNamePrefix}, as an operator or a crashing pooler would.
     *
     * @return how many sessions were killed
     */
    public int terminateSessions(String applicationNamePrefix) {
        String sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                + " WHERE application_name LIKE ? ESCAPE '\\' AND pid <> pg_backend_pid()";
        try (Connection c = dataSource().getConnection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(
                    1,
                    applicationNamePrefix
                                    .replace("\\", "\\\\")
                                    .replace("%", "\\%")
                                    .replace("_", "\\_") + "%");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(
                    "PostgreSQL test fixture: terminating sessions failed: " + e.getMessage(), e);
        }
    }

    /** True when {@link #restart()} can restart this server. */
    public boolean canRestart() {
        return switch (kind) {
            case EMBEDDED -> true;
            case LOCAL -> localCluster().isPresent();
            case ENVIRONMENT -> ServerDiscovery.fromEnvironment("LOCKING_TEST_POSTGRES_RESTART_COMMAND")
                    .isPresent();
            case CONTAINER -> false;
        };
    }

    /**
     * Stops the server, keeps it down for {@code downFor}, starts it again and returns once it
     * accepts connections. Every session is lost; data and sequences survive.
     *
     * @param duringOutage runs while the server is down (may be null)
     */
    public synchronized void restart(Duration downFor, Runnable duringOutage) {
        switch (kind) {
            case EMBEDDED -> {
                closeEmbedded();
                outage(downFor, duringOutage);
                try {
                    embedded = embeddedBuilder(embeddedData, port).start();
                } catch (IOException e) {
                    throw new IllegalStateException("PostgreSQL test fixture: the embedded server did not restart", e);
                }
            }
            case LOCAL -> {
                String[] cluster = localCluster()
                        .orElseThrow(() -> new IllegalStateException(
                                "PostgreSQL test fixture: no pg_ctlcluster cluster listens on port " + port));
                run("pg_ctlcluster", "--skip-systemctl-redirect", "--mode=fast", cluster[0], cluster[1], "stop");
                try {
                    outage(downFor, duringOutage);
                } finally {
                    // Whatever happened meanwhile, the shared server must be left running.
                    run("pg_ctlcluster", "--skip-systemctl-redirect", cluster[0], cluster[1], "start");
                }
            }
            case ENVIRONMENT -> {
                String command = ServerDiscovery.fromEnvironment("LOCKING_TEST_POSTGRES_RESTART_COMMAND")
                        .orElseThrow(
                                () -> new IllegalStateException("PostgreSQL test fixture: cannot restart the server"
                                        + " of LOCKING_TEST_POSTGRES_URL; set LOCKING_TEST_POSTGRES_RESTART_COMMAND to a shell"
                                        + " command that restarts it"));
                if (duringOutage != null) log.warn("restart command: the outage callback runs after the restart");
                run("sh", "-c", command);
                if (duringOutage != null) duringOutage.run();
            }
            case CONTAINER -> throw new IllegalStateException(
                    "PostgreSQL test fixture: restarting a Testcontainers server is not supported (its port would"
                            + " change); run the fault tests against a local server or LOCKING_TEST_POSTGRES_URL");
        }
        awaitReachable(Duration.ofSeconds(60));
    }

    /** {@link #restart(Duration, Runnable)} with no pause and nothing to do during the outage. */
    public void restart() {
        restart(Duration.ZERO, null);
    }

    private static void outage(Duration downFor, Runnable duringOutage) {
        if (duringOutage != null) duringOutage.run();
        try {
            Thread.sleep(downFor.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The Debian cluster (version, name) listening on this server's port, if this is one. */
    private Optional<String[]> localCluster() {
        Path etc = Paths.get("/etc/postgresql");
        if (!Files.isDirectory(etc)) return Optional.empty();
        try (var versions = Files.list(etc)) {
            for (Path version : versions.sorted().toList()) {
                try (var clusters = Files.list(version)) {
                    for (Path cluster : clusters.toList()) {
                        Path conf = cluster.resolve("postgresql.conf");
                        if (Files.isRegularFile(conf) && confPort(conf) == port)
                            return Optional.of(new String[] {
                                version.getFileName().toString(),
                                cluster.getFileName().toString()
                            });
                    }
                }
            }
        } catch (IOException e) {
            log.debug("cannot read /etc/postgresql: {}", e.toString());
        }
        return Optional.empty();
    }

    private static int confPort(Path conf) throws IOException {
        for (String line : Files.readAllLines(conf)) {
            String l = line.strip();
            if (l.startsWith("port") && l.contains("=")) {
                String value =
                        l.substring(l.indexOf('=') + 1).replaceAll("#.*", "").strip();
                try {
                    return Integer.parseInt(value);
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
        }
        return 5432;
    }

    private static void run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0)
                throw new IllegalStateException(
                        "PostgreSQL test fixture: " + String.join(" ", command) + " failed: " + out.strip());
        } catch (IOException e) {
            throw new IllegalStateException("PostgreSQL test fixture: cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private void requireReachable(String what) {
        try (Connection c = dataSource().getConnection()) {
            c.isValid(5);
        } catch (SQLException e) {
            throw new IllegalStateException(
                    "PostgreSQL test fixture: cannot connect to " + what + ": " + e.getMessage() + ". " + HOW_TO_START,
                    e);
        }
    }

    private void awaitReachable(Duration within) {
        long deadline = System.nanoTime() + within.toNanos();
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            try (Connection c = dataSource().getConnection()) {
                if (c.isValid(2)) return;
            } catch (SQLException e) {
                last = e;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        throw new IllegalStateException("PostgreSQL test fixture: the server did not come back within " + within, last);
    }

    private void closeEmbedded() {
        try {
            if (embedded != null) embedded.close();
        } catch (IOException e) {
            log.warn("stopping the embedded PostgreSQL failed: {}", e.toString());
        }
    }

    private void shutdown() {
        List<String> left = new ArrayList<>(schemas);
        for (String schema : left) {
            try {
                dropSchema(schema);
            } catch (RuntimeException e) {
                log.debug("could not drop test schema {}: {}", schema, e.toString());
            }
        }
        if (container != null) container.stop();
        closeEmbedded();
    }

    @Override
    public String toString() {
        return "PostgresServer{" + kind + " " + jdbcUrl + ", user=" + user + "}";
    }
}
