package dev.locking.testkit.servers;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.util.JedisURIHelper;

/**
 * A real Redis for the tests, found in the order of {@link ServerDiscovery}: {@code
 * LOCKING_TEST_REDIS_URL}, a server on 127.0.0.1:6379, Testcontainers when Docker answers, and an
 * embedded server last (refused in CI). One per JVM; tests keep apart through {@link
 * #namespace(Class)}, never by flushing.
 */
public final class RedisServer {
    private static final Logger log = LoggerFactory.getLogger(RedisServer.class);
    private static final String ENV = "LOCKING_TEST_REDIS_URL";
    private static final String HOW_TO_START = "Start one with `redis-server --port 6379 --save \"\" --appendonly no`"
            + " (Debian: apt-get install redis-server), or set " + ENV + "=redis://host:port.";
    /** The command CI uses for its Redis; restart() brings the local server back exactly so. */
    private static final List<String> LOCAL_COMMAND = List.of(
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log");

    /** Where the server came from, which decides how {@link #restart()} works. */
    public enum Kind {
        /** {@code LOCKING_TEST_REDIS_URL}: somebody else's server; it cannot be restarted. */
        EXTERNAL,
        /** The server on 127.0.0.1:6379, restarted with the CI command line. */
        LOCAL,
        /** A Testcontainers container. */
        CONTAINER,
        /** An embedded-redis process this JVM started. */
        EMBEDDED
    }

    private static RedisServer shared;

    private final Kind kind;
    private final String url;
    private final String host;
    private final int port;
    private final GenericContainer<?> container;
    private final redis.embedded.RedisServer embedded;

    private RedisServer(Kind kind, String url, GenericContainer<?> container, redis.embedded.RedisServer embedded) {
        this.kind = kind;
        this.url = url;
        URI uri = URI.create(url);
        this.host = uri.getHost();
        this.port = uri.getPort() == -1 ? 6379 : uri.getPort();
        this.container = container;
        this.embedded = embedded;
    }

    /** The Redis of this JVM, found or started on first use. */
    public static synchronized RedisServer shared() {
        if (shared == null) shared = find();
        return shared;
    }

    private static RedisServer find() {
        boolean forced = ServerDiscovery.embeddedForced();
        var fromEnv = ServerDiscovery.fromEnvironment(ENV);
        if (!forced && fromEnv.isPresent()) {
            String url = fromEnv.get();
            URI uri = URI.create(url);
            int port = uri.getPort() == -1 ? 6379 : uri.getPort();
            boolean local = "127.0.0.1".equals(uri.getHost()) && port == 6379 && uri.getUserInfo() == null;
            log.info("Redis for tests: {} from {}", redacted(url), ENV);
            return new RedisServer(local ? Kind.LOCAL : Kind.EXTERNAL, url, null, null);
        }
        if (!forced && ServerDiscovery.listening("127.0.0.1", 6379)) {
            log.info("Redis for tests: the server on 127.0.0.1:6379");
            return new RedisServer(Kind.LOCAL, "redis://127.0.0.1:6379", null, null);
        }
        if (!forced && ServerDiscovery.dockerAvailable()) {
            // DEBUG RESTART lets restart() bounce the server without a new container or port.
            GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse("redis:7.0"))
                    .withExposedPorts(6379)
                    .withCommand("redis-server", "--save", "", "--appendonly", "no", "--enable-debug-command", "yes");
            container.start();
            String url = "redis://" + container.getHost() + ":" + container.getMappedPort(6379);
            log.info("Redis for tests: Testcontainers at {}", url);
            return new RedisServer(Kind.CONTAINER, url, container, null);
        }
        if (!forced) ServerDiscovery.requireEmbeddedAllowed("Redis", HOW_TO_START);
        try {
            int port = RedisClusterServer.freePort();
            redis.embedded.RedisServer embedded = redis.embedded.RedisServer.newRedisServer()
                    .port(port)
                    .bind("127.0.0.1")
                    .setting("save \"\"")
                    .setting("appendonly no")
                    .build();
            embedded.start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> stopQuietly(embedded), "embedded-redis-stop"));
            String url = "redis://127.0.0.1:" + port;
            log.info("Redis for tests: embedded at {}", url);
            return new RedisServer(Kind.EMBEDDED, url, null, embedded);
        } catch (IOException e) {
            throw new IllegalStateException("Could not start an embedded Redis. " + HOW_TO_START, e);
        }
    }

    public Kind kind() {
        return kind;
    }

    public String host() {
        return host;
    }

    public int port() {
        return port;
    }

    /** {@code redis://host:port}, with credentials when {@code LOCKING_TEST_REDIS_URL} had them. */
    public String url() {
        return url;
    }

    /**
     * A namespace of its own for one test class and run, e.g. {@code test:RedisProviderContractTest:1a2b3c4d:},
     * so tests on one server never see each other's locks and none is a prefix of another.
     */
    public static String namespace(Class<?> testClass) {
        return "test:" + testClass.getSimpleName() + ":"
                + UUID.randomUUID().toString().substring(0, 8) + ":";
    }

    /** A plain connection for assertions on the raw keys; the caller closes it. */
    public Jedis connect() {
        URI uri = URI.create(url);
        JedisClientConfig config = DefaultJedisClientConfig.builder()
                .protocol(RedisProtocol.RESP2)
                .user(JedisURIHelper.getUser(uri))
                .password(JedisURIHelper.getPassword(uri))
                .database(JedisURIHelper.getDBIndex(uri))
                .clientName("locking-test")
                .build();
        return new Jedis(new HostAndPort(host, port), config);
    }

    /**
     * Stops the server, losing every key (no persistence), as a crash would. Pair it with {@link
     * #start()} in a {@code finally}: the server must be running when the test ends.
     */
    public synchronized void stop() {
        switch (kind) {
            case EXTERNAL -> throw new UnsupportedOperationException(
                    "Cannot stop the Redis at " + redacted(url) + " given by " + ENV + "; the fault tests need a"
                            + " server they may restart (127.0.0.1:6379, Docker, or none so one is embedded)");
            case LOCAL, CONTAINER -> shutdownNoSave();
            case EMBEDDED -> stopQuietly(embedded);
        }
        waitUntil(() -> !ServerDiscovery.listening(host, port), Duration.ofSeconds(10), "Redis to stop");
    }

    /** Starts the server stopped by {@link #stop()} again, on the same address, and waits for PING. */
    public synchronized void start() {
        if (ping()) return;
        try {
            switch (kind) {
                case EXTERNAL -> throw new UnsupportedOperationException("Cannot start " + redacted(url));
                case LOCAL -> {
                    Files.createDirectories(Path.of("/var/lib/redis"));
                    Files.createDirectories(Path.of("/var/log/redis"));
                    Process process = new ProcessBuilder(LOCAL_COMMAND)
                            .redirectErrorStream(true)
                            .start();
                    String output = new String(process.getInputStream().readAllBytes());
                    if (process.waitFor() != 0)
                        throw new IllegalStateException("redis-server failed to start: " + output);
                }
                case CONTAINER -> throw new IllegalStateException(
                        "A container cannot start again once stopped; use" + " restart(), which bounces it in place");
                case EMBEDDED -> embedded.start();
            }
        } catch (IOException e) {
            throw new IllegalStateException("Could not start Redis again at " + host + ":" + port, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while starting Redis", e);
        }
        waitUntil(this::ping, Duration.ofSeconds(20), "Redis to answer PING at " + host + ":" + port);
    }

    /** Stops and starts the server: every lock, script and connection is gone afterwards. */
    public synchronized void restart() {
        if (kind == Kind.CONTAINER) {
            try (Jedis jedis = connect()) {
                jedis.sendCommand(() -> "DEBUG".getBytes(java.nio.charset.StandardCharsets.US_ASCII), "RESTART");
            } catch (RuntimeException e) {
                // The server closes the connection as it goes down.
            }
            waitUntil(this::ping, Duration.ofSeconds(20), "Redis to answer PING after DEBUG RESTART");
            return;
        }
        try {
            stop();
        } finally {
            start();
        }
    }

    /** True when the server answers PING. */
    public boolean ping() {
        try (Jedis jedis = connect()) {
            return "PONG".equals(jedis.ping());
        } catch (RuntimeException e) {
            return false;
        }
    }

    private void shutdownNoSave() {
        try (Jedis jedis = connect()) {
            jedis.shutdown(
                    redis.clients.jedis.params.ShutdownParams.shutdownParams().nosave());
        } catch (RuntimeException e) {
            // SHUTDOWN answers by closing the connection.
        }
    }

    private static void stopQuietly(redis.embedded.RedisServer server) {
        try {
            server.stop();
        } catch (IOException | RuntimeException e) {
            log.debug("Embedded Redis did not stop cleanly: {}", e.toString());
        }
    }

    static void waitUntil(java.util.function.BooleanSupplier condition, Duration limit, String what) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("Gave up waiting for " + what);
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("Interrupted while waiting for " + what, e);
            }
        }
    }

    /** The URL without its user info, for logs. */
    static String redacted(String url) {
        try {
            URI uri = URI.create(url);
            return uri.getUserInfo() == null ? url : url.replace(uri.getRawUserInfo() + "@", "***@");
        } catch (IllegalArgumentException e) {
            return "(unparseable URL)";
        }
    }

    @Override
    public String toString() {
        return "RedisServer{" + kind + ", " + redacted(url) + "}";
    }
}
