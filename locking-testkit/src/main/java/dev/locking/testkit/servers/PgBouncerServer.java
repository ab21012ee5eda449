package dev.locking.testkit.servers;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PgBouncer in transaction pooling mode in front of {@link PostgresServer#shared()}: the
 * pooler under which no session state (a session-level advisory lock, a LISTEN, a prepared
 * statement) may be relied on. Started from the {@code pgbouncer} binary ({@code
 * LOCKING_TEST_PGBOUNCER}, else {@code /usr/sbin/pgbouncer}, else the PATH) on a free loopback port
 * with a generated configuration; stopped when the JVM exits. A missing binary fails the test with
 * the command that installs it: a PgBouncer test never skips.
 */
public final class PgBouncerServer {
    private static final Logger log = LoggerFactory.getLogger(PgBouncerServer.class);
    private static final String HOW_TO_INSTALL = "Install PgBouncer: `apt-get install -y pgbouncer` on Debian/Ubuntu"
            + " (bin/test-setup, which `mvn verify` runs first, does it when it may run apt-get as root or through"
            + " password-less sudo), `brew install pgbouncer` on macOS; or set LOCKING_TEST_PGBOUNCER to the"
            + " pgbouncer binary.";
    private static PgBouncerServer shared;

    private final PostgresServer postgres;
    private final int port;
    private final Path directory;
    private final Process process;

    private PgBouncerServer(PostgresServer postgres, int port, Path directory, Process process) {
        this.postgres = postgres;
        this.port = port;
        this.directory = directory;
        this.process = process;
    }

    /** The one PgBouncer all tests of this JVM share, in front of {@link PostgresServer#shared()}. */
    public static synchronized PgBouncerServer shared() {
        if (shared == null) shared = start(PostgresServer.shared());
        return shared;
    }

    /** Starts a PgBouncer in transaction pooling mode in front of {@code postgres}. */
    public static PgBouncerServer start(PostgresServer postgres) {
        Path binary = binary().orElseThrow(() -> new IllegalStateException("No pgbouncer binary found ("
                + ServerDiscovery.fromEnvironment("LOCKING_TEST_PGBOUNCER")
                        .map(configured -> "LOCKING_TEST_PGBOUNCER=" + configured + " is not an executable file")
                        .orElse("looked at /usr/sbin/pgbouncer and on the PATH")
                + "). " + HOW_TO_INSTALL));
        try {
            Path dir = Files.createTempDirectory("locking-pgbouncer");
            // PgBouncer refuses to run as root; it drops to another user, who must read and write here.
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
            int port = freePort();
            Path userlist = dir.resolve("userlist.txt");
            Files.writeString(
                    userlist,
                    quote(postgres.user()) + " " + quote(postgres.password() == null ? "" : postgres.password())
                            + "\n");
            Path ini = dir.resolve("pgbouncer.ini");
            Files.writeString(
                    ini,
                    String.join(
                            "\n",
                            "[databases]",
                            "* = host=" + postgres.host() + " port=" + postgres.port(),
                            "[pgbouncer]",
                            "listen_addr = 127.0.0.1",
                            "listen_port = " + port,
                            "unix_socket_dir =",
                            "auth_type = trust",
                            "auth_file = " + userlist,
                            "pool_mode = transaction",
                            // pgjdbc sends it at start-up; PgBouncer does not track it.
                            "ignore_startup_parameters = extra_float_digits",
                            "max_client_conn = 500",
                            "default_pool_size = 20",
                            "server_login_retry = 1",
                            "logfile = " + dir.resolve("pgbouncer.log"),
                            "pidfile = " + dir.resolve("pgbouncer.pid"),
                            ""));
            for (Path f : List.of(userlist, ini))
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
            List<String> command = new ArrayList<>(List.of(binary.toString()));
            if ("root".equals(System.getProperty("user.name"))) command.addAll(List.of("-u", unprivilegedUser()));
            command.add(ini.toString());
            Process process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("stdout.log").toFile())
                    .start();
            PgBouncerServer server = new PgBouncerServer(postgres, port, dir, process);
            Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "pgbouncer-stop"));
            server.awaitListening();
            log.info(
                    "PgBouncer for tests: 127.0.0.1:{}, pool_mode transaction, in front of {}",
                    port,
                    postgres.jdbcUrl());
            return server;
        } catch (IOException e) {
            throw new IllegalStateException("PgBouncer test fixture: could not start " + binary + ": " + e, e);
        }
    }

    private static Optional<Path> binary() {
        Optional<String> configured = ServerDiscovery.fromEnvironment("LOCKING_TEST_PGBOUNCER");
        if (configured.isPresent())
            return Optional.of(Paths.get(configured.get())).filter(Files::isExecutable);
        Path system = Paths.get("/usr/sbin/pgbouncer");
        if (Files.isExecutable(system)) return Optional.of(system);
        String path = System.getenv("PATH");
        if (path == null) return Optional.empty();
        for (String dir : path.split(java.io.File.pathSeparator)) {
            Path candidate = Paths.get(dir, "pgbouncer");
            if (Files.isExecutable(candidate)) return Optional.of(candidate);
        }
        return Optional.empty();
    }

    private static String unprivilegedUser() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/etc/passwd")))
            if (line.startsWith("postgres:")) return "postgres";
        return "nobody";
    }

    private static String quote(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private void awaitListening() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive())
                throw new IllegalStateException(
                        "PgBouncer test fixture: pgbouncer exited with " + process.exitValue() + ": " + output());
            if (ServerDiscovery.listening("127.0.0.1", port)) return;
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        stop();
        throw new IllegalStateException(
                "PgBouncer test fixture: pgbouncer did not listen on " + port + ": " + output());
    }

    private String output() {
        try {
            return Files.readString(directory.resolve("stdout.log"), StandardCharsets.UTF_8)
                    .strip();
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    /** A JDBC URL to the test database through PgBouncer, without credentials. */
    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + postgres.database();
    }

    public int port() {
        return port;
    }

    /** The PostgreSQL server behind it. */
    public PostgresServer postgres() {
        return postgres;
    }

    /** Stops PgBouncer; idempotent. */
    public void stop() {
        if (!process.isAlive()) return;
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    @Override
    public String toString() {
        return "PgBouncerServer{127.0.0.1:" + port + " -> " + postgres.jdbcUrl() + "}";
    }
}
