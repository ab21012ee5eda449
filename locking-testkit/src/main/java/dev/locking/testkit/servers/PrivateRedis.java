package dev.locking.testkit.servers;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/**
 * A redis-server process of the test's own on a free loopback port, without persistence, for
 * faults the shared server must never see: a replica promoted, a master killed, an evicting memory
 * policy, a wall clock that steps. It runs the {@code redis-server} on the PATH, or, with a {@link
 * FakeClock}, the libc-malloc build shipped in the embedded-redis jar (see FakeClock). The process
 * and its directory go on {@link #close()} or when the JVM exits.
 *
 * <pre>{@code
 * try (PrivateRedis redis = PrivateRedis.builder().maxMemory("4mb", "allkeys-lru").start()) { ... }
 * }</pre>
 */
public final class PrivateRedis implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PrivateRedis.class);
    private static final String HOW_TO_INSTALL =
            "The fault tests start their own redis-server (on the PATH); on Debian: apt-get install redis-server.";
    /** The libc-malloc Linux build inside the embedded-redis jar, the one libfaketime can be preloaded into. */
    private static final String EMBEDDED_BINARY = "redis-server-6.2.6-v5-linux-amd64";

    private final int port;
    private final Path dir;
    private final List<String> command;
    private final FakeClock clock;
    private Process process;

    /** How to start one. */
    public static final class Builder {
        private final List<String> settings = new ArrayList<>();
        private boolean fakeClock;
        private Duration clockOffset = Duration.ZERO;

        private Builder() {}

        /** Any redis-server setting, e.g. {@code setting("maxmemory-policy", "allkeys-lru")}. */
        public Builder setting(String name, String value) {
            settings.add("--" + name);
            settings.add(value);
            return this;
        }

        /** A memory limit and what Redis does when it is reached (e.g. "allkeys-lru", "noeviction"). */
        public Builder maxMemory(String bytes, String policy) {
            return setting("maxmemory", bytes).setting("maxmemory-policy", policy);
        }

        /** Starts as a replica of {@code master} (asynchronous, as Redis replication always is). */
        public Builder replicaOf(String host, int port) {
            return setting("replicaof", host + " " + port);
        }

        /** Runs on a {@link FakeClock} that starts {@code offset} from the real time. */
        public Builder fakeClock(Duration offset) {
            this.fakeClock = true;
            this.clockOffset = offset;
            return this;
        }

        public PrivateRedis start() {
            return PrivateRedis.start(this);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    private PrivateRedis(int port, Path dir, List<String> command, FakeClock clock) {
        this.port = port;
        this.dir = dir;
        this.command = command;
        this.clock = clock;
    }

    private static PrivateRedis start(Builder b) {
        Path dir;
        try {
            dir = Files.createTempDirectory("locking-private-redis");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int port = Processes.freePort();
        FakeClock clock = b.fakeClock ? FakeClock.in(dir, b.clockOffset) : null;
        List<String> command = new ArrayList<>();
        command.add(clock == null ? "redis-server" : embeddedBinary(dir).toString());
        command.addAll(List.of(
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.toString()));
        command.addAll(b.settings);
        PrivateRedis redis = new PrivateRedis(port, dir, command, clock);
        Runtime.getRuntime().addShutdownHook(new Thread(redis::close, "private-redis-" + port + "-stop"));
        try {
            redis.launch();
        } catch (RuntimeException e) {
            redis.close();
            throw e;
        }
        return redis;
    }

    private static Path embeddedBinary(Path dir) {
        Path binary = dir.resolve("redis-server");
        try (InputStream in = PrivateRedis.class.getClassLoader().getResourceAsStream(EMBEDDED_BINARY)) {
            if (in == null)
                throw new IllegalStateException("A fake clock needs the redis-server of the embedded-redis jar ("
                        + EMBEDDED_BINARY + "), which is not on the classpath");
            Files.copy(in, binary, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!binary.toFile().setExecutable(true))
            throw new IllegalStateException("Cannot make " + binary + " executable");
        return binary;
    }

    private synchronized void launch() {
        try {
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(
                            dir.resolve("redis.log").toFile()));
            if (clock != null) pb.environment().putAll(clock.environment());
            process = pb.start();
        } catch (IOException e) {
            throw new IllegalStateException("Could not start redis-server. " + HOW_TO_INSTALL, e);
        }
        Processes.waitUntil(
                this::ping,
                Duration.ofSeconds(20),
                "the private redis-server on port " + port + " (log: " + log() + ")");
        log.info("Private Redis on 127.0.0.1:{}{}", port, clock == null ? "" : " on a fake clock");
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return port;
    }

    public HostAndPort address() {
        return new HostAndPort(host(), port);
    }

    /** {@code redis://127.0.0.1:<port>}. */
    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    /** The clock this server runs on; fails when it was started without one. */
    public FakeClock clock() {
        if (clock == null) throw new IllegalStateException("This Redis was started without fakeClock(...)");
        return clock;
    }

    /** A plain connection; the caller closes it. */
    public Jedis connect() {
        return RedisClusterServer.connect(address());
    }

    public boolean ping() {
        try (Jedis jedis = connect()) {
            return "PONG".equals(jedis.ping());
        } catch (RuntimeException e) {
            return false;
        }
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** SIGKILL: the server dies with everything in memory, as a crashed host. */
    public synchronized void kill() {
        if (process != null) Processes.killTree(process.toHandle());
    }

    /** Starts the killed server again, empty, on the same port and settings. */
    public synchronized void restart() {
        kill();
        launch();
    }

    /** {@code REPLICAOF NO ONE}: a replica becomes a master, with what it had received. */
    public void promote() {
        try (Jedis jedis = connect()) {
            jedis.replicaofNoOne();
        }
        Processes.waitUntil(
                () -> role().equals("master"), Duration.ofSeconds(10), "Redis on port " + port + " to become master");
    }

    /** Makes this server a replica of {@code host:port}. */
    public void replicaOf(String host, int masterPort) {
        try (Jedis jedis = connect()) {
            jedis.replicaof(host, masterPort);
        }
    }

    /** "master" or "slave", as INFO replication reports it. */
    public String role() {
        try (Jedis jedis = connect()) {
            for (String line : jedis.info("replication").split("\r?\n"))
                if (line.startsWith("role:")) return line.substring(5).strip();
        }
        return "unknown";
    }

    /** True when this replica's link to its master is up and it has loaded the initial sync. */
    public boolean replicaInSync() {
        try (Jedis jedis = connect()) {
            String info = jedis.info("replication");
            return info.contains("master_link_status:up") && info.contains("master_sync_in_progress:0");
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The replication offset this server has reached (master_repl_offset). */
    public long replicationOffset() {
        try (Jedis jedis = connect()) {
            for (String line : jedis.info("replication").split("\r?\n"))
                if (line.startsWith("master_repl_offset:"))
                    return Long.parseLong(line.substring(19).strip());
        }
        return -1;
    }

    private String log() {
        try {
            String text = Files.readString(dir.resolve("redis.log"));
            return text.length() > 1000 ? text.substring(text.length() - 1000) : text;
        } catch (IOException e) {
            return "(none)";
        }
    }

    /** The directory that holds its log; deleted on {@link #close()}. */
    public Path directory() {
        return dir;
    }

    /** Kills the process and deletes its directory. */
    @Override
    public synchronized void close() {
        kill();
        Processes.deleteTree(dir);
    }

    @Override
    public String toString() {
        return "PrivateRedis{127.0.0.1:" + port + (clock == null ? "" : ", fake clock " + clock.offset()) + "}";
    }
}
