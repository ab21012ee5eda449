package dev.locking.testkit.servers;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisProtocol;

/**
 * A real Redis Cluster on loopback: three masters, each with one replica, started from the {@code
 * redis-server} on the PATH ({@code --cluster-enabled yes}) and joined with {@code redis-cli
 * --cluster create}. The replicas make a master failover testable. Processes and temporary
 * directories go when the JVM exits. When the cluster cannot be started the test fails with the
 * reason: it never skips.
 */
public final class RedisClusterServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RedisClusterServer.class);
    private static final String HOW_TO_INSTALL = "The Redis Cluster tests need redis-server and redis-cli (7.0 or"
            + " later) on the PATH; on Debian: apt-get install redis-server redis-tools.";
    private static final int MASTERS = 3;
    /** Short, so a failover after a master dies takes seconds, not the default 15 s. */
    private static final int NODE_TIMEOUT_MILLIS = 2_000;

    private static RedisClusterServer shared;

    private final Path directory;
    private final List<Node> nodes = new ArrayList<>();

    /** One redis-server process of the cluster. */
    public record Node(HostAndPort address, Process process, Path directory) {}

    private RedisClusterServer(Path directory) {
        this.directory = directory;
    }

    /** The cluster of this JVM, started on first use and stopped at exit. */
    public static synchronized RedisClusterServer shared() {
        if (shared == null) shared = start();
        return shared;
    }

    /** A cluster of its own (for tests that break it); close it when done. */
    public static RedisClusterServer start() {
        Path directory;
        try {
            directory = Files.createTempDirectory("locking-redis-cluster");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        RedisClusterServer cluster = new RedisClusterServer(directory);
        Runtime.getRuntime().addShutdownHook(new Thread(cluster::close, "redis-cluster-stop"));
        try {
            cluster.boot();
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    private void boot() {
        for (int i = 0; i < MASTERS * 2; i++) nodes.add(startNode(i));
        for (Node node : nodes)
            RedisServer.waitUntil(() -> ping(node.address()), Duration.ofSeconds(20), "redis-server " + node.address());
        List<String> command = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
        for (Node node : nodes) command.add(node.address().toString());
        command.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
        String output = run(command, Duration.ofSeconds(60));
        RedisServer.waitUntil(
                this::healthy,
                Duration.ofSeconds(60),
                "the Redis Cluster to report cluster_state:ok"
                        + " on every node with every replica in sync (redis-cli said: " + output + ")");
        log.info("Redis Cluster for tests: masters {}", masters());
    }

    private Node startNode(int index) {
        int port = freePort();
        Path dir = directory.resolve("node-" + port);
        try {
            Files.createDirectories(dir);
            Process process = new ProcessBuilder(
                            "redis-server",
                            "--port",
                            Integer.toString(port),
                            "--bind",
                            "127.0.0.1",
                            "--cluster-enabled",
                            "yes",
                            "--cluster-config-file",
                            "nodes.conf",
                            "--cluster-node-timeout",
                            Integer.toString(NODE_TIMEOUT_MILLIS),
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--dir",
                            dir.toString())
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("redis.log").toFile())
                    .start();
            return new Node(new HostAndPort("127.0.0.1", port), process, dir);
        } catch (IOException e) {
            throw new IllegalStateException(
                    "Could not start redis-server for cluster node " + index + ". " + HOW_TO_INSTALL, e);
        }
    }

    /** Seed nodes as the provider's {@code cluster-nodes} option takes them: {@code ["127.0.0.1:port", ...]}. */
    public List<String> seeds() {
        return nodes.stream().map(n -> n.address().toString()).toList();
    }

    public List<Node> nodes() {
        return List.copyOf(nodes);
    }

    /** The current masters, as the cluster itself reports them. */
    public List<HostAndPort> masters() {
        return roleOf("master");
    }

    public List<HostAndPort> replicas() {
        return roleOf("slave");
    }

    private List<HostAndPort> roleOf(String role) {
        for (Node node : nodes) {
            if (!node.process().isAlive()) continue;
            try (Jedis jedis = connect(node.address())) {
                List<HostAndPort> found = new ArrayList<>();
                for (String line : jedis.clusterNodes().split("\n")) {
                    String[] fields = line.split(" ");
                    if (fields.length < 3 || fields[2].contains("fail")) continue;
                    if (!List.of(fields[2].split(",")).contains(role)) continue;
                    found.add(HostAndPort.from(fields[1].substring(0, fields[1].indexOf('@'))));
                }
                found.sort(Comparator.comparingInt(HostAndPort::getPort));
                return found;
            } catch (RuntimeException e) {
                // Ask the next node.
            }
        }
        throw new IllegalStateException("No node of the Redis Cluster answers");
    }

    /**
     * Makes the replica of {@code master} take over (CLUSTER FAILOVER, the coordinated manual
     * failover) and waits until the cluster is healthy again.
     *
     * @return the new master
     */
    public HostAndPort failover(HostAndPort master) {
        HostAndPort replica = replicaOf(master);
        try (Jedis jedis = connect(replica)) {
            jedis.clusterFailover();
        }
        RedisServer.waitUntil(
                () -> masters().contains(replica) && healthy(), Duration.ofSeconds(30), replica + " to become master");
        return replica;
    }

    /** Kills {@code master}'s process (SIGKILL) and waits until its replica took over. */
    public HostAndPort killMaster(HostAndPort master) {
        HostAndPort replica = replicaOf(master);
        Node node = nodes.stream()
                .filter(n -> n.address().equals(master))
                .findFirst()
                .orElseThrow();
        node.process().destroyForcibly();
        RedisServer.waitUntil(() -> masters().contains(replica), Duration.ofSeconds(30), replica + " to take over");
        return replica;
    }

    /** The replica of {@code master}, once the cluster agrees on it (roles take a moment to spread after a failover). */
    private HostAndPort replicaOf(HostAndPort master) {
        String masterId;
        try (Jedis jedis = connect(master)) {
            masterId = jedis.clusterMyId();
        }
        HostAndPort[] found = new HostAndPort[1];
        RedisServer.waitUntil(
                () -> {
                    found[0] = replicaIn(master, masterId);
                    return found[0] != null;
                },
                Duration.ofSeconds(30),
                "a replica of " + master + " in sync");
        return found[0];
    }

    private HostAndPort replicaIn(HostAndPort master, String masterId) {
        try (Jedis jedis = connect(master)) {
            for (String line : jedis.clusterNodes().split("\n")) {
                String[] fields = line.split(" ");
                if (fields.length > 7 && fields[3].equals(masterId) && !fields[2].contains("fail")) {
                    HostAndPort replica = HostAndPort.from(fields[1].substring(0, fields[1].indexOf('@')));
                    try (Jedis r = connect(replica)) {
                        if (r.info("replication").contains("master_link_status:up")) return replica;
                    }
                }
            }
        } catch (RuntimeException e) {
            // Not there yet.
        }
        return null;
    }

    private boolean everyNodeSees(int masters, int replicas) {
        for (Node node : nodes) {
            try (Jedis jedis = connect(node.address())) {
                String view = jedis.clusterNodes();
                long m = view.lines()
                        .filter(l -> l.matches("\\S+ \\S+ (myself,)?master .*"))
                        .count();
                long r = view.lines()
                        .filter(l -> l.matches("\\S+ \\S+ (myself,)?slave .*"))
                        .count();
                if (m != masters || r != replicas) return false;
            } catch (RuntimeException e) {
                return false;
            }
        }
        return true;
    }

    private boolean healthy() {
        for (Node node : nodes) {
            if (!node.process().isAlive()) continue;
            try (Jedis jedis = connect(node.address())) {
                if (!jedis.clusterInfo().contains("cluster_state:ok")) return false;
                String replication = jedis.info("replication");
                if (replication.contains("role:slave") && !replication.contains("master_link_status:up")) return false;
            } catch (RuntimeException e) {
                return false;
            }
        }
        return true;
    }

    private static boolean ping(HostAndPort address) {
        try (Jedis jedis = connect(address)) {
            return "PONG".equals(jedis.ping());
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** A plain connection to one node; the caller closes it. */
    public static Jedis connect(HostAndPort address) {
        return new Jedis(
                address,
                DefaultJedisClientConfig.builder()
                        .protocol(RedisProtocol.RESP2)
                        .clientName("locking-test")
                        .timeoutMillis(5_000)
                        .build());
    }

    private String run(List<String> command, Duration limit) {
        try {
            File out = Files.createTempFile(directory, "cli", ".log").toFile();
            Process process = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(out)
                    .start();
            boolean done = process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
            String output = Files.readString(out.toPath()).trim();
            if (!done) {
                process.destroyForcibly();
                throw new IllegalStateException(
                        String.join(" ", command) + " did not finish in " + limit + ": " + output);
            }
            if (process.exitValue() != 0)
                throw new IllegalStateException(String.join(" ", command) + " failed (exit " + process.exitValue()
                        + "): " + output + "\n" + HOW_TO_INSTALL);
            return output.length() > 300 ? output.substring(output.length() - 300) : output;
        } catch (IOException e) {
            throw new IllegalStateException("Could not run " + command.get(0) + ". " + HOW_TO_INSTALL, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while creating the Redis Cluster", e);
        }
    }

    /**
     * A TCP port that is free now, as is the cluster bus port 10000 above it. Another process may
     * still take it before us; the odds on loopback in a test run are small.
     */
    static int freePort() {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(20_000, 45_000);
            if (free(port) && free(port + 10_000)) return port;
        }
        throw new IllegalStateException("No free loopback port pair (p, p+10000) found for Redis");
    }

    private static boolean free(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Stops every node and deletes the cluster's files. */
    @Override
    public synchronized void close() {
        for (Node node : nodes) node.process().destroyForcibly();
        for (Node node : nodes) {
            try {
                node.process().waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        nodes.clear();
        try (Stream<Path> files = Files.walk(directory)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.debug("Could not delete {}: {}", directory, e.toString());
        }
    }
}
