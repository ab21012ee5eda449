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
import java.util.Map;
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
public final class PrivateRedis extends PrivateServer {
    private static final String HOW_TO_INSTALL =
            "The fault tests start their own redis-server (on the PATH); on Debian: apt-get install redis-server.";
    /** The libc-malloc Linux build inside the embedded-redis jar, the one libfaketime can be preloaded into. */
    private static final String EMBEDDED_BINARY = "redis-server-6.2.6-v5-linux-amd64";

    private final List<String> command;

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

    private PrivateRedis(Path dir, int port, List<String> command, FakeClock clock) {
        super("Redis", dir, port, "redis.log", clock);
        this.command = command;
    }

    private static PrivateRedis start(Builder b) {
        Path dir = temporaryDirectory("locking-private-redis");
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
        return started(new PrivateRedis(dir, port, command, clock), PrivateRedis::launch);
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

    private void launch() {
        FakeClock clock = clockOrNull();
        startProcess(
                command,
                clock == null ? Map.of() : clock.environment(),
                HOW_TO_INSTALL,
                this::ping,
                Duration.ofSeconds(20));
    }

    public HostAndPort address() {
        return new HostAndPort(host(), port());
    }

    /** {@code redis://127.0.0.1:<port>}. */
    public String url() {
        return "redis://127.0.0.1:" + port();
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

    /** Starts the killed server again, empty, on the same port and settings. */
    public synchronized void restart() {
        kill();
        launch();
    }

    /** {@code REPLICAOF NO ONE}: a replica becomes a master, with what it had received. */
    @Override
    public void promote() {
        try (Jedis jedis = connect()) {
            jedis.replicaofNoOne();
        }
        Processes.waitUntil(
                () -> role().equals("master"), Duration.ofSeconds(10), "Redis on port " + port() + " to become master");
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
}
