package dev.locking.redis;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import dev.locking.api.LockingConfigurationException;
import dev.locking.spi.ProviderContext;
import dev.locking.spi.Secrets;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.util.JedisURIHelper;

/**
 * The options of one {@code locking-redis} registration, read and validated at once. Every problem
 * is reported together, each with its full key path. The password never leaves this class except
 * into the Jedis client configuration: {@link #toString()} and {@link #endpoint()} hide it.
 */
final class RedisSettings {

    private static final Set<String> KEYS = Set.of(
            "url",
            "cluster-nodes",
            "user",
            "password",
            "ssl",
            "namespace",
            "connect-timeout",
            "socket-timeout",
            "pool",
            "poll-interval",
            "waiter-expiry",
            "fencing-counter-retention",
            "on-evicting-policy",
            "max-keys-per-call",
            "cluster");
    private static final Set<String> POOL_KEYS = Set.of("max-total", "max-idle", "min-idle", "max-wait");
    private static final Set<String> CLUSTER_KEYS = Set.of("max-attempts");

    /** Redis Cluster seed nodes; empty for a standalone server. */
    final List<HostAndPort> clusterNodes;
    /** The standalone server; null for a cluster. */
    final HostAndPort server;

    final int database;
    final String user;
    final String password;
    final boolean ssl;
    final String namespace;
    final Duration connectTimeout;
    final Duration socketTimeout;
    final int poolMaxTotal;
    final int poolMaxIdle;
    final int poolMinIdle;
    final Duration poolMaxWait;
    final Duration pollInterval;
    final Duration waiterExpiry;
    final Duration fencingCounterRetention;
    final int clusterMaxAttempts;
    final MemoryPolicy.OnEvicting onEvictingPolicy;
    final int maxKeysPerCall;

    private RedisSettings(Reader r) {
        this.clusterNodes = r.clusterNodes;
        this.server = r.server;
        this.database = r.database;
        this.user = r.user;
        this.password = r.password;
        this.ssl = r.ssl;
        this.namespace = r.namespace;
        this.connectTimeout = r.connectTimeout;
        this.socketTimeout = r.socketTimeout;
        this.poolMaxTotal = r.poolMaxTotal;
        this.poolMaxIdle = r.poolMaxIdle;
        this.poolMinIdle = r.poolMinIdle;
        this.poolMaxWait = r.poolMaxWait;
        this.pollInterval = r.pollInterval;
        this.waiterExpiry = r.waiterExpiry;
        this.fencingCounterRetention = r.fencingCounterRetention;
        this.clusterMaxAttempts = r.clusterMaxAttempts;
        this.onEvictingPolicy = r.onEvictingPolicy;
        this.maxKeysPerCall = r.maxKeysPerCall;
    }

    /**
     * Reads {@code context.options()}.
     *
     * @throws LockingConfigurationException listing every bad key by its full path
     */
    static RedisSettings from(ProviderContext context) {
        Reader reader = new Reader(context.optionsPath());
        reader.read(context.options());
        if (!reader.problems.isEmpty()) throw new LockingConfigurationException(reader.problems);
        return new RedisSettings(reader);
    }

    boolean cluster() {
        return server == null;
    }

    /** Where the provider connects, without credentials, for logs and error messages. */
    String endpoint() {
        if (server != null) return (ssl ? "rediss://" : "redis://") + server + (database == 0 ? "" : "/" + database);
        return "cluster " + clusterNodes + (ssl ? " (TLS)" : "");
    }

    @Override
    public String toString() {
        return "RedisSettings{endpoint=" + endpoint() + ", user=" + (user == null ? "-" : user) + ", password="
                + (password == null ? "-" : "****") + ", namespace=" + namespace + ", pollInterval=" + pollInterval
                + "}";
    }

    /** Collects values and problems; a bad value leaves a harmless default so that reading goes on. */
    private static final class Reader {
        private final String path;
        private final List<String> problems = new ArrayList<>();

        List<HostAndPort> clusterNodes = List.of();
        HostAndPort server;
        int database;
        String user;
        String password;
        boolean ssl;
        String namespace = "lock:";
        Duration connectTimeout = Duration.ofSeconds(2);
        Duration socketTimeout = Duration.ofSeconds(2);
        int poolMaxTotal = 16;
        int poolMaxIdle = 16;
        int poolMinIdle;
        Duration poolMaxWait = Duration.ofSeconds(30);
        Duration pollInterval = Duration.ofMillis(500);
        Duration waiterExpiry = Duration.ofSeconds(5);
        Duration fencingCounterRetention = Duration.ofHours(1);
        int clusterMaxAttempts = 5;
        MemoryPolicy.OnEvicting onEvictingPolicy = MemoryPolicy.OnEvicting.REFUSE;
        int maxKeysPerCall = 1_000;

        Reader(String path) {
            this.path = path;
        }

        private String key(String name) {
            return path + "." + name;
        }

        void read(Map<String, Object> options) {
            Config config;
            try {
                config = ConfigFactory.parseMap(options, "options of " + path);
            } catch (ConfigException e) {
                problems.add(path + " cannot be read: " + e.getMessage());
                return;
            }
            unknownKeys(config, "", KEYS);
            if (config.hasPath("pool")) unknownKeys(config, "pool", POOL_KEYS);
            if (config.hasPath("cluster")) unknownKeys(config, "cluster", CLUSTER_KEYS);

            user = blankToNull(string(config, "user"));
            String optionPassword = blankToNull(string(config, "password"));
            ssl = bool(config, "ssl", false);
            String url = blankToNull(string(config, "url"));
            List<String> nodes = stringList(config, "cluster-nodes");
            if (url == null && nodes.isEmpty())
                problems.add(key("url") + " or " + key("cluster-nodes") + " must be set: url = \"redis://host:6379\""
                        + " for one server, cluster-nodes = [\"host:port\", ...] for a Redis Cluster");
            else if (url != null && !nodes.isEmpty())
                problems.add(key("url") + " and " + key("cluster-nodes") + " are both set; set exactly one of them");
            else if (url != null) readUrl(url, optionPassword);
            else readNodes(nodes);
            if (password == null) password = optionPassword;

            namespace = string(config, "namespace");
            if (namespace == null || namespace.isEmpty()) {
                problems.add(key("namespace") + " must not be empty: it keeps the locks apart from other data");
                namespace = "lock:";
            } else if (namespace.indexOf('{') >= 0 || namespace.indexOf('}') >= 0 || namespace.indexOf('\0') >= 0)
                problems.add(key("namespace") + " must not contain '{', '}' or NUL, was \"" + namespace
                        + "\": the provider places its own hash tags to keep a lock's records in one cluster slot");

            connectTimeout = duration(config, "connect-timeout", Duration.ofMillis(1), connectTimeout);
            socketTimeout = duration(config, "socket-timeout", Duration.ofMillis(1), socketTimeout);
            poolMaxTotal = integer(config, "pool.max-total", 1, poolMaxTotal);
            poolMaxIdle = integer(config, "pool.max-idle", 0, poolMaxIdle);
            poolMinIdle = integer(config, "pool.min-idle", 0, poolMinIdle);
            if (poolMinIdle > poolMaxIdle)
                problems.add(key("pool.min-idle") + " (" + poolMinIdle + ") must not exceed " + key("pool.max-idle")
                        + " (" + poolMaxIdle + ")");
            poolMaxWait = duration(config, "pool.max-wait", Duration.ofMillis(1), poolMaxWait);
            pollInterval = duration(config, "poll-interval", Duration.ofMillis(10), pollInterval);
            waiterExpiry = duration(config, "waiter-expiry", Duration.ofMillis(20), waiterExpiry);
            if (waiterExpiry.compareTo(pollInterval.multipliedBy(2)) < 0)
                problems.add(key("waiter-expiry") + " (" + waiterExpiry + ") must be at least twice "
                        + key("poll-interval") + " (" + pollInterval
                        + "): a live waiter refreshes its place once per poll interval");
            fencingCounterRetention =
                    duration(config, "fencing-counter-retention", Duration.ZERO, fencingCounterRetention);
            clusterMaxAttempts = integer(config, "cluster.max-attempts", 1, clusterMaxAttempts);
            maxKeysPerCall = integer(config, "max-keys-per-call", 1, maxKeysPerCall);
            String onEvicting = string(config, "on-evicting-policy");
            if ("refuse".equals(onEvicting)) onEvictingPolicy = MemoryPolicy.OnEvicting.REFUSE;
            else if ("warn".equals(onEvicting)) onEvictingPolicy = MemoryPolicy.OnEvicting.WARN;
            else if (onEvicting != null)
                problems.add(key("on-evicting-policy") + " must be \"refuse\" or \"warn\", was \""
                        + dev.locking.spi.Printable.escape(onEvicting) + "\"");
        }

        private void readUrl(String url, String optionPassword) {
            URI uri;
            try {
                uri = new URI(url);
            } catch (URISyntaxException e) {
                // The parser's message repeats the input, which may hold a password.
                problems.add(key("url") + " is not a valid URL (value not shown, it may contain a password);"
                        + " expected redis://[user:password@]host:port[/database] or rediss://... for TLS");
                return;
            }
            if (!JedisURIHelper.isRedisScheme(uri) && !JedisURIHelper.isRedisSSLScheme(uri)) {
                problems.add(key("url") + " must start with redis:// or rediss:// (TLS), was "
                        + (uri.getScheme() == null ? "no scheme" : uri.getScheme() + "://"));
                return;
            }
            if (uri.getHost() == null || uri.getHost().isBlank()) {
                problems.add(key("url") + " has no host; expected redis://host:port");
                return;
            }
            int port = uri.getPort() == -1 ? 6379 : uri.getPort();
            server = new HostAndPort(uri.getHost(), port);
            ssl = ssl || JedisURIHelper.isRedisSSLScheme(uri);
            String path = uri.getPath();
            if (path != null && !path.isEmpty() && !path.equals("/")) {
                try {
                    database = Integer.parseInt(path.substring(1));
                    if (database < 0) throw new NumberFormatException();
                } catch (NumberFormatException e) {
                    // Not shown: a password pasted after the host lands in the path.
                    problems.add(key("url") + " has a path that is not a database number (value not shown, it may"
                            + " contain a password); only /0, /1, ... is allowed after host:port");
                }
            }
            if (uri.getQuery() != null || uri.getFragment() != null)
                problems.add(key("url") + " has a ?query or #fragment (value not shown, it may contain a password);"
                        + " expected redis://[user:password@]host:port[/database]");
            if (uri.getUserInfo() != null && uri.getUserInfo().indexOf(':') < 0) {
                // Jedis would throw "Password not provided in uri" (user@host), or take a password for a user name.
                problems.add(key("url") + " has user info without a ':' (not shown); write redis://user:password@host"
                        + " for a user and password, or redis://:password@host for a password alone");
                return;
            }
            String urlUser = blankToNull(JedisURIHelper.getUser(uri));
            String urlPassword = blankToNull(JedisURIHelper.getPassword(uri));
            if (urlPassword != null && optionPassword != null)
                problems.add(key("url") + " holds a password and " + key("password") + " is set too; keep one");
            if (urlUser != null && user != null && !urlUser.equals(user))
                problems.add(key("url") + " names user \"" + urlUser + "\" but " + key("user") + " is \"" + user
                        + "\"; keep one");
            if (user == null) user = urlUser;
            password = urlPassword;
        }

        /**
         * Seed nodes as {@code host:port}, {@code [ipv6]:port} or {@code redis://host:port} (rediss://
         * turns on TLS). Credentials are refused in a node: they would be taken for part of the
         * host and shown wherever the node is; {@code user} and {@code password} hold them. A value
         * is shown in a message only when it holds no {@code @}, which is where a secret would be.
         */
        private void readNodes(List<String> nodes) {
            List<HostAndPort> parsed = new ArrayList<>();
            for (int i = 0; i < nodes.size(); i++) {
                String node = nodes.get(i).trim();
                String where = key("cluster-nodes") + "[" + i + "]";
                String shown = node.indexOf('@') >= 0
                        ? "(value not shown, it may contain a password)"
                        : "\"" + dev.locking.spi.Printable.escape(node) + "\"";
                if (node.indexOf('@') >= 0) {
                    problems.add(where + " holds credentials " + shown + "; give host:port only and set " + key("user")
                            + " and " + key("password") + " instead");
                    continue;
                }
                int scheme = node.indexOf("://");
                if (scheme >= 0) {
                    String name = node.substring(0, scheme);
                    if (!name.equals("redis") && !name.equals("rediss")) {
                        problems.add(where + " must be host:port or redis://host:port, was " + shown);
                        continue;
                    }
                    ssl = ssl || name.equals("rediss");
                    node = node.substring(scheme + 3);
                    if (node.endsWith("/")) node = node.substring(0, node.length() - 1);
                }
                int colon = node.lastIndexOf(':');
                if (colon <= 0 || colon == node.length() - 1 || node.indexOf('/') >= 0) {
                    problems.add(where + " must be host:port, was " + shown);
                    continue;
                }
                String host = node.substring(0, colon);
                if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
                try {
                    int port = Integer.parseInt(node.substring(colon + 1));
                    if (port < 1 || port > 65535) throw new NumberFormatException();
                    parsed.add(new HostAndPort(host, port));
                } catch (NumberFormatException e) {
                    problems.add(where + " has no valid port (1-65535), was " + shown);
                }
            }
            clusterNodes = List.copyOf(parsed);
            if (parsed.isEmpty() && problems.isEmpty())
                problems.add(key("cluster-nodes") + " lists no usable node; expected [\"host:port\", ...]");
        }

        private void unknownKeys(Config config, String under, Set<String> known) {
            Set<String> present;
            try {
                present = under.isEmpty()
                        ? config.root().keySet()
                        : config.getConfig(under).root().keySet();
            } catch (ConfigException e) {
                problems.add(key(under) + " must be an object { ... }");
                return;
            }
            for (String k : new TreeSet<>(present)) {
                if (!known.contains(k))
                    problems.add((under.isEmpty() ? key(k) : key(under + "." + k)) + " is not a locking-redis option;"
                            + " known: " + new TreeSet<>(known));
            }
        }

        private <T> T get(Config config, String name, Function<String, T> read, String expected, T fallback) {
            if (!config.hasPath(name)) {
                problems.add(key(name) + " is missing (the provider's reference.conf sets it; is the jar intact?)");
                return fallback;
            }
            try {
                return read.apply(name);
            } catch (ConfigException e) {
                ConfigValue value = config.getValue(name);
                problems.add(key(name) + " must be " + expected + ", was "
                        + value.valueType().name().toLowerCase()
                        + (name.contains("password") || Secrets.mayHoldCredentials(value.render())
                                ? " (not shown)"
                                : " " + value.render()));
                return fallback;
            }
        }

        private String string(Config config, String name) {
            return get(config, name, config::getString, "a string", null);
        }

        private boolean bool(Config config, String name, boolean fallback) {
            return get(config, name, config::getBoolean, "true or false", fallback);
        }

        private List<String> stringList(Config config, String name) {
            return get(config, name, config::getStringList, "a list of \"host:port\" strings", List.of());
        }

        private int integer(Config config, String name, int min, int fallback) {
            int value = get(config, name, config::getInt, "a whole number", fallback);
            if (value < min) {
                problems.add(key(name) + " must be at least " + min + ", was " + value);
                return fallback;
            }
            return value;
        }

        private Duration duration(Config config, String name, Duration min, Duration fallback) {
            Duration value = get(config, name, config::getDuration, "a duration such as \"500ms\" or \"2s\"", fallback);
            if (value.compareTo(min) < 0) {
                problems.add(
                        key(name) + " must be at least " + min.toMillis() + " ms, was " + value.toMillis() + " ms");
                return fallback;
            }
            if (value.toMillis() > Integer.MAX_VALUE && !name.equals("fencing-counter-retention")) {
                problems.add(key(name) + " must be at most " + Integer.MAX_VALUE + " ms, was " + value);
                return fallback;
            }
            return value;
        }

        private static String blankToNull(String value) {
            return value == null || value.isBlank() ? null : value;
        }
    }
}
