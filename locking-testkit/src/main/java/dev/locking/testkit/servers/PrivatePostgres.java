package dev.locking.testkit.servers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL cluster of the test's own: {@code initdb} in a temporary directory, the server on a
 * free loopback port, trust authentication for user {@code postgres}, database {@code postgres}. It
 * runs the server binaries of the newest {@code /usr/lib/postgresql/<version>/bin} (Debian's
 * packages), as user {@code postgres} when the JVM runs as root (PostgreSQL refuses root). Fault
 * tests may kill, restart, promote or step the clock of it: the shared server on 5432 is never
 * touched. The process and its directory go on {@link #close()} or when the JVM exits.
 */
public final class PrivatePostgres extends PrivateServer {
    private static final Logger log = LoggerFactory.getLogger(PrivatePostgres.class);
    private static final String HOW_TO_INSTALL = "The fault tests start their own PostgreSQL from the server binaries"
            + " under /usr/lib/postgresql/<version>/bin; on Debian: apt-get install postgresql.";

    private final Path data;

    private PrivatePostgres(Path dir, FakeClock clock) {
        super("PostgreSQL", dir, Processes.freePort(), "server.log", clock);
        this.data = dir.resolve("data");
    }

    /** A new primary cluster, started. */
    public static PrivatePostgres start() {
        return start(null);
    }

    /**
     * A new primary cluster on a {@link FakeClock} starting {@code clockOffset} from the real time;
     * null for the real clock.
     */
    public static PrivatePostgres start(Duration clockOffset) {
        return create(
                clockOffset,
                data -> List.of(
                        binary("initdb"),
                        "-D",
                        data.toString(),
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                        "-E",
                        "UTF8",
                        "--locale=C",
                        "--no-sync"));
    }

    /**
     * A streaming replica of the server at {@code host:port} ({@code pg_basebackup -R}, asynchronous),
     * started; the primary's address may be a proxy, so the test can break the replication link.
     */
    public static PrivatePostgres replicaOf(String host, int primaryPort, Duration clockOffset) {
        return create(
                clockOffset,
                data -> List.of(
                        binary("pg_basebackup"),
                        "-h",
                        host,
                        "-p",
                        Integer.toString(primaryPort),
                        "-U",
                        "postgres",
                        "-D",
                        data.toString(),
                        "-R",
                        "-X",
                        "stream",
                        "--no-sync"));
    }

    /** A cluster whose data directory {@code fillData} makes (initdb or a base backup), started. */
    private static PrivatePostgres create(Duration clockOffset, Function<Path, List<String>> fillData) {
        Path dir = temporaryDirectory("locking-private-pg");
        FakeClock clock = clockOffset == null ? null : FakeClock.in(dir, clockOffset);
        if (Processes.root())
            Processes.run(List.of("chown", "-R", "postgres:postgres", dir.toString()), Duration.ofSeconds(10));
        return started(new PrivatePostgres(dir, clock), pg -> {
            run(fillData.apply(pg.data));
            pg.launch();
        });
    }

    /** The newest Debian server binary directory, else the PATH. */
    static String binary(String name) {
        Path base = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(base)) {
            try (var versions = Files.list(base)) {
                var found = versions.map(v -> v.resolve("bin").resolve(name))
                        .filter(Files::isExecutable)
                        .max(Comparator.comparingInt(
                                p -> versionOf(p.getParent().getParent())));
                if (found.isPresent()) return found.get().toString();
            } catch (IOException e) {
                log.debug("cannot list {}: {}", base, e.toString());
            }
        }
        return name;
    }

    private static int versionOf(Path dir) {
        try {
            return Integer.parseInt(dir.getFileName().toString());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The command as the server's user: {@code setpriv} to postgres when we are root. */
    private static List<String> asServerUser(List<String> command) {
        if (!Processes.root()) return command;
        List<String> wrapped =
                new ArrayList<>(List.of("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"));
        wrapped.addAll(command);
        return wrapped;
    }

    private static void run(List<String> command) {
        try {
            Processes.run(asServerUser(command), Duration.ofSeconds(120));
        } catch (IllegalStateException e) {
            throw new IllegalStateException(e.getMessage() + "\n" + HOW_TO_INSTALL, e);
        }
    }

    private void launch() {
        Path dir = directory();
        List<String> command = new ArrayList<>();
        // The clock's library must start inside the server's own user, after setpriv, so env runs after it.
        if (clockOrNull() != null) command.addAll(clockOrNull().envPrefix());
        command.addAll(Arrays.asList(
                binary("postgres"),
                "-D",
                data.toString(),
                "-p",
                Integer.toString(port()),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=" + dir,
                // A test cluster: speed over crash safety of the host (a killed server loses nothing it wrote).
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "shared_buffers=32MB",
                "-c",
                "max_connections=60",
                "-c",
                "wal_level=replica",
                "-c",
                "max_wal_senders=4",
                "-c",
                "hot_standby=on",
                "-c",
                "wal_receiver_status_interval=1s",
                "-c",
                "wal_retrieve_retry_interval=1s"));
        startProcess(asServerUser(command), Map.of(), HOW_TO_INSTALL, this::accepts, Duration.ofSeconds(60));
    }

    private boolean accepts() {
        if (!isAlive()) throw new IllegalStateException("postgres exited: " + log());
        try (Connection c = dataSource().getConnection()) {
            return c.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }

    public String user() {
        return "postgres";
    }

    public String database() {
        return "postgres";
    }

    /** {@code jdbc:postgresql://127.0.0.1:<port>/postgres}. */
    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port() + "/postgres";
    }

    public DataSource dataSource() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(jdbcUrl());
        ds.setUser("postgres");
        ds.setApplicationName("dev.locking tests");
        ds.setConnectTimeout(5);
        ds.setSocketTimeout(30);
        return ds;
    }

    /** Runs one statement. */
    public void execute(String sql) {
        try (Connection c = dataSource().getConnection();
                Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("Private PostgreSQL: \"" + sql + "\" failed: " + e.getMessage(), e);
        }
    }

    /** The first column of the first row of a query, as text. */
    public String query(String sql) {
        try (Connection c = dataSource().getConnection();
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        } catch (SQLException e) {
            throw new IllegalStateException("Private PostgreSQL: \"" + sql + "\" failed: " + e.getMessage(), e);
        }
    }

    /**
     * Kills the server, keeps it down for {@code downFor} (running {@code duringOutage} first, if
     * given), and starts it again on the same port and data; it recovers from its WAL.
     */
    public synchronized void restart(Duration downFor, Runnable duringOutage) {
        kill();
        if (duringOutage != null) duringOutage.run();
        try {
            Thread.sleep(downFor.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // A killed postmaster leaves its pid file; the new one checks that pid is gone, which it is.
        launch();
    }

    /** True while this server replays a primary's WAL (a replica not yet promoted). */
    public boolean inRecovery() {
        return "t".equals(query("SELECT pg_is_in_recovery()"));
    }

    /** Promotes this replica to a primary and waits until it takes writes. */
    @Override
    public void promote() {
        query("SELECT pg_promote(true, 30)");
        Processes.waitUntil(
                () -> !inRecovery(), Duration.ofSeconds(30), "PostgreSQL on port " + port() + " to be promoted");
    }
}
