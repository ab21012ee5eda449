package dev.locking.redis;

import dev.locking.api.LockingException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import redis.clients.jedis.BuilderFactory;
import redis.clients.jedis.CommandArguments;
import redis.clients.jedis.CommandObject;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.JedisCluster;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.SslOptions;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisClusterOperationException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;
import redis.clients.jedis.exceptions.JedisNoScriptException;
import redis.clients.jedis.executors.ClusterCommandExecutor;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.providers.ClusterConnectionProvider;
import redis.clients.jedis.providers.PooledConnectionProvider;
import redis.clients.jedis.resps.ScanResult;

/**
 * One pooled Jedis client per registration, for a standalone server or a Redis Cluster, and the
 * rules every call follows: scripts run by SHA and are loaded on NOSCRIPT, a connection the server
 * dropped is retried once on a fresh one, and whatever still fails becomes a {@link
 * LockingException} that names the registration, the endpoint (never the credentials) and what to
 * check.
 *
 * <h2>Calls bounded by a deadline</h2>
 *
 * A call given a deadline ({@link #eval(LuaScript, List, List, Long)}) waits for a pooled connection
 * only until then (never longer than {@code pool.max-wait}), and on a cluster its redirections and
 * retries stop then too. Its script's reply is waited for until then as well, but at least {@link
 * #READ_FLOOR} and at most {@code socket-timeout}: the call then fails, core undoes it by its grant
 * id, and the connection it gave up on is ended on the server before that undo. Not bounded: a new
 * connection takes up to {@code connect-timeout} (and {@code socket-timeout} for its set-up), and
 * the one retry of a call whose connection broke (it replays a lost reply) happens, after a reply
 * that did not come in time only while a {@code socket-timeout} still fits before the deadline.
 *
 * <h2>Jedis versions</h2>
 *
 * The clients are built only from API that Jedis 6.0 to 8.0 all have (see {@link JedisSupport}):
 * a {@link UnifiedJedis} over our own pooled provider for a server, a {@link JedisCluster} over our
 * own cluster provider for a cluster. The builders of newer Jedis ({@code RedisClient}, {@code
 * RedisClusterClient}) and {@code JedisPooled} (gone in 8) are not used, so the jar runs with the
 * Jedis the application already has.
 */
final class RedisStore implements AutoCloseable {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RedisStore.class);
    /** What a deadline adds to an attempt's budget: a zero budget still gets a round trip. */
    static final Duration GRACE = Duration.ofMillis(100);
    /**
     * The least a bounded call waits for a reply (when {@code socket-timeout} allows): a reply that
     * takes longer than the caller's time left, and this, fails the call, which core then undoes.
     */
    static final Duration READ_FLOOR = Duration.ofMillis(500);

    private final RedisSettings settings;
    private final String registration;
    private final String clientName;
    private final Object lock = new Object();
    /** The deadline (System.nanoTime()) of the bounded call running on this thread, if any. */
    private final ThreadLocal<Long> deadlines = new ThreadLocal<>();

    private volatile UnifiedJedis client;
    /** The pools of the client: one for a server, one per node for a cluster (the other is null). */
    private volatile BoundedPooledProvider serverProvider;

    private volatile BoundedClusterProvider clusterProvider;
    private boolean closed;

    /** How soon a refused acquire reads the memory policy again, so that a fixed server is seen. */
    private static final long POLICY_RECHECK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Object policyLock = new Object();
    /** The server's id of each pooled connection an acquire ran on (see {@link #clientId}). */
    private final Map<Connection, Long> clientIds =
            java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    /** A connection an acquire gave up on: its server id, and a key of the script for a cluster's node. */
    private record Abandoned(String sampleKey, long clientId) {}

    /** Connections to end on the server before the next undo or release ({@link #endAbandonedConnections}). */
    private final Set<Abandoned> abandoned = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Set when a connection is opened anew (start, reconnect) and the memory policy not read since. */
    private volatile boolean policyCheckDue = true;
    /** Why new locks are refused now (an evicting policy with on-evicting-policy = refuse), or null. */
    private volatile String refusal;

    private volatile long policyCheckedAt;
    /** The servers and policies already warned about, so a warning is logged once per change. */
    private final Set<String> warned = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Test seam: runs after the first try of a call answered, with what the call did. A {@link
     * JedisConnectionException} it throws is handled as a reply lost on its way back.
     */
    volatile Consumer<String> afterReply = what -> {};

    RedisStore(RedisSettings settings, String registration) {
        this.settings = settings;
        this.registration = registration;
        // CLIENT SETNAME takes no spaces or newlines; the name lets operators find our connections.
        this.clientName = "locking:" + registration.replaceAll("[^A-Za-z0-9_.:\\-]", "_");
    }

    boolean cluster() {
        return settings.cluster();
    }

    String clientName() {
        return clientName;
    }

    Duration socketTimeout() {
        return settings.socketTimeout;
    }

    JedisClientConfig clientConfig(String name) {
        DefaultJedisClientConfig.Builder config = DefaultJedisClientConfig.builder()
                .protocol(RedisProtocol.RESP2)
                .connectionTimeoutMillis((int) settings.connectTimeout.toMillis())
                .socketTimeoutMillis((int) settings.socketTimeout.toMillis())
                .clientName(name);
        // TLS with the JVM's trust store and host name verification (javax.net.ssl.* properties).
        if (settings.ssl) config.sslOptions(SslOptions.builder().build());
        if (settings.user != null) config.user(settings.user);
        if (settings.password != null) config.password(settings.password);
        if (!settings.cluster()) config.database(settings.database);
        return config.build();
    }

    private UnifiedJedis client() {
        UnifiedJedis current = client;
        if (current != null) return current;
        synchronized (lock) {
            if (closed) throw new LockingException("Redis provider " + registration + " is closed");
            if (client == null) {
                client = open();
                policyCheckDue = true;
            }
            return client;
        }
    }

    /** A cluster client reads the topology when built, so it is built on first use, not at start-up. */
    private UnifiedJedis open() {
        ConnectionPoolConfig pool = new ConnectionPoolConfig();
        pool.setMaxTotal(settings.poolMaxTotal);
        pool.setMaxIdle(settings.poolMaxIdle);
        pool.setMinIdle(settings.poolMinIdle);
        pool.setMaxWait(settings.poolMaxWait);
        // First come, first served: a release waits its turn behind a crowd of acquires, not forever.
        pool.setFairness(true);
        pool.setJmxEnabled(false);
        JedisClientConfig config = clientConfig(clientName);
        if (!settings.cluster()) {
            BoundedPooledProvider provider = new BoundedPooledProvider(settings.server, config, pool);
            serverProvider = provider;
            return new ServerClient(provider);
        }
        BoundedClusterProvider provider =
                new BoundedClusterProvider(new HashSet<>(settings.clusterNodes), config, pool);
        try {
            // Jedis's own default for a cluster: every attempt may take a whole socket timeout.
            ClusterClient built = new ClusterClient(
                    provider,
                    settings.clusterMaxAttempts,
                    settings.socketTimeout.multipliedBy(settings.clusterMaxAttempts));
            clusterProvider = provider;
            return built;
        } catch (RuntimeException e) {
            provider.close();
            throw e;
        }
    }

    /**
     * A client of one server that runs each command once on a connection of {@code provider}
     * (retries are {@link #call}'s). {@code UnifiedJedis(ConnectionProvider, RedisProtocol)} is the
     * one constructor with that behaviour that Jedis 6 to 8 all have.
     */
    private static final class ServerClient extends UnifiedJedis {
        final BoundedPooledProvider provider;

        ServerClient(BoundedPooledProvider provider) {
            super(provider, RedisProtocol.RESP2);
            this.provider = provider;
        }

        CommandObject<Object> evalshaCommand(String sha, List<String> keys, List<String> args) {
            return commandObjects.evalsha(sha, keys, args);
        }

        CommandObject<String> scriptLoadCommand(String source) {
            return commandObjects.scriptLoad(source);
        }
    }

    /**
     * A cluster client that can also build a script call for an executor of our own, with the
     * command objects it uses itself (those of Jedis 6 and 7 must route by slot in their own way).
     */
    @SuppressWarnings("deprecation") // JedisCluster is deprecated in Jedis 8 but the one cluster client of 6 to 8.
    private static final class ClusterClient extends JedisCluster {
        ClusterClient(ClusterConnectionProvider provider, int maxAttempts, Duration maxTotalRetries) {
            super(provider, maxAttempts, maxTotalRetries);
        }

        CommandObject<Object> evalshaCommand(String sha, List<String> keys, List<String> args) {
            return commandObjects.evalsha(sha, keys, args);
        }
    }

    // ---- the memory policy ---------------------------------------------------------------------

    /**
     * Reads the memory policy of the server (every master of a cluster) at start. A server that
     * does not answer now is read on the first call instead.
     *
     * @throws LockingException when it may evict keys and on-evicting-policy is refuse
     */
    void checkMemoryPolicyAtStart() {
        try {
            checkMemoryPolicy();
        } catch (LockingException e) {
            if (refusal != null) throw e;
            log.info(
                    "Redis provider {}: the memory policy of {} could not be read at start ({}); it is read on the"
                            + " first connection",
                    registration,
                    settings.endpoint(),
                    e.getMessage());
            return;
        }
        if (refusal != null) throw new LockingException(refusal);
    }

    /**
     * Before new locks are taken: reads the memory policy again when a connection was opened anew
     * since it was last read (a restart or a failover may bring another configuration).
     *
     * @throws LockingException when new locks are refused
     */
    void checkMemoryPolicyBeforeAcquire() {
        if (!policyCheckDue && refusal == null) return;
        if (refusal != null && System.nanoTime() - policyCheckedAt < POLICY_RECHECK_NANOS)
            throw new LockingException(refusal);
        checkMemoryPolicy();
        String refused = refusal;
        if (refused != null) throw new LockingException(refused);
    }

    private void checkMemoryPolicy() {
        synchronized (policyLock) {
            if (!policyCheckDue && refusal == null) return;
            Map<String, MemoryPolicy> policies = readMemoryPolicies();
            policyCheckedAt = System.nanoTime();
            policyCheckDue = false;
            String refused = null;
            for (Map.Entry<String, MemoryPolicy> node : policies.entrySet()) {
                MemoryPolicy policy = node.getValue();
                if (policy == null) {
                    if (warned.add(node.getKey() + " unknown"))
                        log.warn(
                                "Redis provider {}: could not read the memory policy of {} (INFO memory names none);"
                                        + " make sure its maxmemory-policy is noeviction, or a full server may evict"
                                        + " held locks",
                                registration,
                                node.getKey());
                    continue;
                }
                if (!policy.evicts()) continue;
                String danger = "the Redis at " + node.getKey() + " may evict keys (" + policy
                        + "): when its memory is full it deletes keys, a held lock among them, and a second owner"
                        + " then takes the key while the first still holds it";
                String fix = "set maxmemory-policy to noeviction on that server (CONFIG SET maxmemory-policy"
                        + " noeviction, and in its configuration file), or give the locks a Redis of their own";
                if (settings.onEvictingPolicy == MemoryPolicy.OnEvicting.REFUSE) {
                    if (refused == null)
                        refused = "Redis provider " + registration + " refuses new locks: " + danger + ". To fix it, "
                                + fix + "; to take locks anyway, set on-evicting-policy = warn in the options of "
                                + registration + ".";
                } else if (warned.add(node.getKey() + " " + policy)) {
                    log.warn(
                            "Redis provider {}: {}. Locks are taken anyway (on-evicting-policy = warn); {}.",
                            registration,
                            danger,
                            fix);
                }
            }
            if (refused != null && refusal == null) log.error("{}", refused);
            else if (refused == null && refusal != null)
                log.info("Redis provider {}: the memory policy is safe now; new locks are taken again", registration);
            refusal = refused;
        }
    }

    /** Each server's policy, by the address shown in messages (never with credentials); null when unknown. */
    private Map<String, MemoryPolicy> readMemoryPolicies() {
        return call("read the memory policy (INFO memory)", client -> {
            Map<String, MemoryPolicy> policies = new java.util.LinkedHashMap<>();
            BoundedClusterProvider clustered = clusterProvider;
            if (clustered != null) {
                for (HostAndPort master : masters(clustered)) {
                    try (Jedis node = connect(clustered, master)) {
                        policies.put(master.toString(), readMemoryPolicy(node::info));
                    }
                }
            } else {
                policies.put(settings.endpoint(), readMemoryPolicy(client::info));
            }
            return policies;
        });
    }

    private static MemoryPolicy readMemoryPolicy(Function<String, String> info) {
        try {
            return MemoryPolicy.parse(info.apply("memory"));
        } catch (JedisDataException e) {
            // INFO denied (an ACL, a managed service that renames it): the policy is unknown.
            return null;
        }
    }

    /** The deadline of an attempt with {@code budget} left; null for an unbounded one. */
    static Long deadline(Duration budget) {
        if (budget == null) return null;
        long nanos = budget.compareTo(Duration.ofDays(1)) > 0
                ? TimeUnit.DAYS.toNanos(1)
                : budget.plus(GRACE).toNanos();
        return System.nanoTime() + nanos;
    }

    /**
     * {@link #eval(LuaScript, List, List)} bounded by {@code deadline} (see the class comment);
     * unbounded when it is null.
     */
    List<?> eval(LuaScript script, List<String> keys, List<String> args, Long deadline) {
        if (deadline == null) return eval(script, keys, args);
        Long outer = deadlines.get();
        deadlines.set(deadline);
        try {
            return call("run " + script.name(), script == LuaScript.ACQUIRE, jedis -> {
                if (jedis instanceof ServerClient server) return evalBounded(server, script, keys, args, deadline);
                ClusterConnectionProvider provider = clusterProvider;
                if (provider == null || !(jedis instanceof ClusterClient cluster))
                    return evalOn(jedis, script, keys, args);
                ClusterCommandExecutor executor = boundedExecutor(provider, deadline, keys);
                Object reply;
                try {
                    reply = executor.executeCommand(cluster.evalshaCommand(script.sha(), keys, args));
                } catch (JedisNoScriptException e) {
                    jedis.scriptLoad(script.source(), keys.get(0));
                    reply = executor.executeCommand(cluster.evalshaCommand(script.sha(), keys, args));
                }
                return asList(reply);
            });
        } finally {
            if (outer == null) deadlines.remove();
            else deadlines.set(outer);
        }
    }

    /** A script on one pooled connection of a server, its reply waited for only until the deadline. */
    private List<?> evalBounded(
            ServerClient server, LuaScript script, List<String> keys, List<String> args, long deadline) {
        try (Connection connection = server.provider.getConnection()) {
            return readsBy(connection, deadline, keys.get(0), () -> {
                Object reply;
                try {
                    reply = connection.executeCommand(server.evalshaCommand(script.sha(), keys, args));
                } catch (JedisNoScriptException e) {
                    connection.executeCommand(server.scriptLoadCommand(script.source()));
                    reply = connection.executeCommand(server.evalshaCommand(script.sha(), keys, args));
                }
                return asList(reply);
            });
        }
    }

    /**
     * Runs {@code reading} with the socket timeout of {@code connection} cut to the time left before
     * {@code deadline}, but never below {@link #READ_FLOOR} (a round trip to a healthy server under
     * load; a call that does not wait has only {@link #GRACE}), then puts the configured timeout back
     * before the connection returns to its pool. A script abandoned this way may still run: the call
     * fails, and core undoes it by its grant id. Its connection is remembered, to be ended on the
     * server before that undo ({@link #endAbandonedConnections}).
     *
     * @param sampleKey a key of the script, for the node of a cluster that serves it
     */
    private <T> T readsBy(
            Connection connection, long deadline, String sampleKey, java.util.function.Supplier<T> reading) {
        int normal = (int) settings.socketTimeout.toMillis();
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        int bounded = (int) Math.min(normal, Math.max(READ_FLOOR.toMillis(), left));
        boolean cut = bounded < normal;
        if (cut) connection.setSoTimeout(bounded);
        try {
            long id = clientId(connection);
            try {
                return reading.get();
            } catch (JedisConnectionException e) {
                if (id >= 0) abandoned.add(new Abandoned(sampleKey, id));
                throw e;
            }
        } finally {
            if (cut && !connection.isBroken()) {
                try {
                    connection.setSoTimeout(normal);
                } catch (JedisException e) {
                    // Marked broken: its pool drops it instead of lending it with the short timeout.
                }
            }
        }
    }

    /** The server's id of {@code connection} (CLIENT ID), asked on its first acquire; -1 when refused (an ACL). */
    private long clientId(Connection connection) {
        Long id = clientIds.get(connection);
        if (id != null) return id;
        try {
            id = connection.executeCommand(
                    new CommandObject<>(new CommandArguments(Protocol.Command.CLIENT).add("ID"), BuilderFactory.LONG));
        } catch (JedisDataException e) {
            id = -1L;
        }
        clientIds.put(connection, id);
        return id;
    }

    /**
     * Ends on the server every connection an acquire gave up on while its script was sent and not
     * answered ({@code CLIENT KILL ID}). A partition may hold such a script back and deliver it
     * after the call's undo has run, when it would take the keys again for a caller who got an
     * exception; a connection ended first runs nothing more (Redis runs one command at a time, so
     * the script ran before, and the undo frees it, or never runs). Called before every undo and
     * release; nothing to do unless an acquire was abandoned.
     *
     * @throws LockingException when Redis cannot be reached (the undo fails, and is retried)
     */
    void endAbandonedConnections() {
        for (Abandoned connection : List.copyOf(abandoned)) {
            String id = Long.toString(connection.clientId());
            try {
                call(
                        "end a connection an acquire gave up on (CLIENT KILL ID)",
                        jedis -> cluster()
                                ? jedis.sendCommand(connection.sampleKey(), Protocol.Command.CLIENT, "KILL", "ID", id)
                                : jedis.sendCommand(Protocol.Command.CLIENT, "KILL", "ID", id));
            } catch (LockingException e) {
                if (!(e.getCause() instanceof JedisDataException)) throw e;
                if (warned.add("client kill"))
                    log.warn(
                            "Redis provider {}: Redis refused CLIENT KILL ({}); a request that a network partition"
                                    + " delivers after the undo of its failed acquire may take its keys again",
                            registration,
                            e.getCause().getMessage());
            }
            abandoned.remove(connection);
        }
    }

    /**
     * Jedis's own cluster executor, with the retries' total duration cut to the deadline and each
     * reply waited for only until then ({@link #readsBy}). Not closed after use: closing it would
     * close the shared provider.
     */
    @SuppressWarnings("deprecation") // the constructor Jedis 6 to 8 all have; 7.4+ add one with a flags registry
    private ClusterCommandExecutor boundedExecutor(
            ClusterConnectionProvider provider, long deadline, List<String> keys) {
        return new ClusterCommandExecutor(
                provider,
                settings.clusterMaxAttempts,
                Duration.ofNanos(Math.max(TimeUnit.MILLISECONDS.toNanos(1), deadline - System.nanoTime()))) {
            @Override
            protected <T> T execute(Connection connection, CommandObject<T> command) {
                return readsBy(connection, deadline, keys.get(0), () -> connection.executeCommand(command));
            }
        };
    }

    /**
     * A pooled connection. The pool is fair: callers get connections in the order they asked, so a
     * busy pool delays each call by its turn and starves none. A call with a deadline (an acquire)
     * waits until its deadline, however long, and no longer; any other call (a release, a renewal,
     * a listing) waits up to {@code pool.max-wait}.
     */
    private Connection borrow(ConnectionPool pool) {
        Long deadline = deadlines.get();
        long waitMillis = deadline == null
                ? settings.poolMaxWait.toMillis()
                : Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        Connection connection;
        try {
            connection = pool.borrowObject(Duration.ofMillis(waitMillis));
        } catch (NoSuchElementException e) {
            if (e.getCause() == null)
                throw new PoolBusyException(
                        "no pooled connection came free within " + waitMillis + " ms ("
                                + (deadline == null ? "pool.max-wait" : "the caller's time left") + "; pool.max-total"
                                + " is " + settings.poolMaxTotal + ")",
                        e);
            throw new JedisException("Could not get a resource from the pool", e);
        } catch (JedisException e) {
            throw e;
        } catch (Exception e) {
            throw new JedisConnectionException("Could not get a resource from the pool", e);
        }
        connection.setHandlingPool(pool);
        return connection;
    }

    /** True when {@code e} says no pooled connection came free in time: the pool is busy, Redis is not at fault. */
    static boolean poolBusy(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) if (t instanceof PoolBusyException) return true;
        return false;
    }

    /** No pooled connection came free in time. */
    private static final class PoolBusyException extends JedisException {
        private static final long serialVersionUID = 1L;

        PoolBusyException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A standalone server's pool, borrowed from by {@link #borrow}. */
    private final class BoundedPooledProvider extends PooledConnectionProvider {
        BoundedPooledProvider(HostAndPort server, JedisClientConfig config, ConnectionPoolConfig pool) {
            super(server, config, pool);
        }

        @Override
        public Connection getConnection() {
            return getPool() instanceof ConnectionPool pool ? borrow(pool) : super.getConnection();
        }

        @Override
        public Connection getConnection(CommandArguments args) {
            return getConnection();
        }
    }

    /** A cluster's pools (one per node), borrowed from by {@link #borrow}. */
    private final class BoundedClusterProvider extends ClusterConnectionProvider {
        BoundedClusterProvider(Set<HostAndPort> seeds, JedisClientConfig config, ConnectionPoolConfig pool) {
            super(seeds, config, pool);
        }

        @Override
        public Connection getConnectionFromSlot(int slot) {
            HostAndPort node = getNode(slot);
            ConnectionPool pool = node == null ? null : getNodes().get(node.toString());
            // A slot of no known node: Jedis's own path reads the topology again.
            return pool != null ? borrow(pool) : super.getConnectionFromSlot(slot);
        }

        @Override
        public Connection getConnection(HostAndPort node) {
            ConnectionPool pool = getNodes().get(node.toString());
            return pool != null ? borrow(pool) : super.getConnection(node);
        }
    }

    /**
     * Runs {@code script} by its SHA on the server that owns {@code keys}, all in one slot.
     *
     * @return the script's table, or its single value as a one-element list
     */
    List<?> eval(LuaScript script, List<String> keys, List<String> args) {
        return call("run " + script.name(), script == LuaScript.ACQUIRE, jedis -> evalOn(jedis, script, keys, args));
    }

    private static List<?> evalOn(UnifiedJedis jedis, LuaScript script, List<String> keys, List<String> args) {
        Object reply;
        try {
            reply = jedis.evalsha(script.sha(), keys, args);
        } catch (JedisNoScriptException e) {
            // Scripts are cached per server and lost on restart, failover and SCRIPT FLUSH.
            jedis.scriptLoad(script.source(), keys.get(0));
            reply = jedis.evalsha(script.sha(), keys, args);
        }
        return asList(reply);
    }

    private static List<?> asList(Object reply) {
        return reply instanceof List<?> list ? list : java.util.Collections.singletonList(reply);
    }

    /**
     * Every key matching the glob {@code pattern}, by SCAN (never KEYS, which blocks the server
     * while it walks the whole keyspace). On a cluster, every master is scanned: the masters are
     * read from CLUSTER SLOTS, so a replica is never scanned twice over and a master the client has
     * not met yet is not missed. A key may be missed or seen twice while slots move; the caller
     * reads each key again anyway.
     */
    Set<String> scan(String pattern) {
        return call("scan the namespace for locks", client -> {
            Set<String> found = new HashSet<>();
            BoundedClusterProvider clustered = clusterProvider;
            if (clustered != null) {
                for (HostAndPort master : masters(clustered)) {
                    try (Jedis node = connect(clustered, master)) {
                        scanNode(node::scan, pattern, found);
                    }
                }
            } else {
                scanNode(client::scan, pattern, found);
            }
            return found;
        });
    }

    private static void scanNode(
            BiFunction<String, ScanParams, ScanResult<String>> scan, String pattern, Set<String> found) {
        ScanParams params = new ScanParams().match(pattern).count(1000);
        String cursor = ScanParams.SCAN_POINTER_START;
        ScanResult<String> page;
        do {
            page = scan.apply(cursor, params);
            found.addAll(page.getResult());
            cursor = page.getCursor();
        } while (!page.isCompleteIteration());
    }

    /** The masters that serve the cluster's slots, asked of the first node that answers. */
    private static Set<HostAndPort> masters(ClusterConnectionProvider clustered) {
        JedisException last = null;
        for (Map.Entry<String, ConnectionPool> node : clustered.getNodes().entrySet()) {
            List<?> ranges;
            try (Jedis jedis = new Jedis(node.getValue().getResource())) {
                // Raw CLUSTER SLOTS (Jedis deprecates its wrapper): Redis 6 has no CLUSTER SHARDS.
                ranges = (List<?>) jedis.sendCommand(Protocol.Command.CLUSTER, "SLOTS");
            } catch (JedisException e) {
                last = e;
                continue;
            }
            Set<HostAndPort> masters = new LinkedHashSet<>();
            long covered = 0;
            for (Object range : ranges) {
                List<?> entry = (List<?>) range;
                covered += RedisLockingProvider.asLong(entry.get(1)) - RedisLockingProvider.asLong(entry.get(0)) + 1;
                List<?> master = (List<?>) entry.get(2);
                String host = RedisLockingProvider.asString(master.get(0));
                // "" or "?" is an endpoint the node does not know for itself: take the host we reached.
                if (host.isEmpty() || host.equals("?"))
                    host = HostAndPort.from(node.getKey()).getHost();
                masters.add(new HostAndPort(host, (int) RedisLockingProvider.asLong(master.get(1))));
            }
            // A listing that silently leaves out the locks of a master that is down would mislead.
            if (covered < 16384)
                throw new JedisClusterOperationException(
                        "only " + covered + " of 16384 slots have a master (CLUSTER SLOTS at " + node.getKey()
                                + "); wait for the cluster to recover");
            return masters;
        }
        throw last != null ? last : new JedisClusterOperationException("no cluster node is known");
    }

    /** A connection to {@code master}: from the client's pool, or of its own for a node it has not met. */
    private Jedis connect(ClusterConnectionProvider clustered, HostAndPort master) {
        ConnectionPool pool = clustered.getNodes().get(master.toString());
        return new Jedis(pool != null ? pool.getResource() : new Connection(master, clientConfig(clientName)));
    }

    /**
     * Runs {@code operation}. A connection the server closed while it sat idle in the pool (CLIENT
     * KILL, restart, idle timeout) only shows on first use, and its pool mates are likely closed too:
     * drop the idle ones and try once more. Every script is safe to repeat (see acquire.lua).
     */
    <T> T call(String what, Function<UnifiedJedis, T> operation) {
        return call(what, false, operation);
    }

    /**
     * As {@link #call(String, Function)}; {@code newLocks}: the operation takes locks, so its retry
     * on a fresh connection reads the memory policy first (the server behind it may be another one,
     * or reconfigured) and fails instead when new locks are refused.
     */
    private <T> T call(String what, boolean newLocks, Function<UnifiedJedis, T> operation) {
        try {
            T result = operation.apply(client());
            afterReply.accept(what);
            return result;
        } catch (JedisConnectionException first) {
            // A server that dropped our connections may have restarted or failed over with another
            // configuration: the memory policy is read again before the next new lock.
            policyCheckDue = true;
            clearIdleConnections();
            // A reply that did not come in time is no stale pooled connection: a bounded call retries
            // it only while a fresh connection's set-up (up to socket-timeout) still fits before its deadline.
            Long deadline = deadlines.get();
            if (deadline != null && timedOut(first) && deadline - System.nanoTime() < settings.socketTimeout.toNanos())
                throw failure(what, first);
            if (newLocks) {
                try {
                    checkMemoryPolicyBeforeAcquire();
                } catch (LockingException e) {
                    e.addSuppressed(first); // the first try may have acted: see RedisLockingProvider#mayHaveActed
                    throw e;
                }
            }
            try {
                return operation.apply(client());
            } catch (JedisException e) {
                e.addSuppressed(first);
                throw failure(what, e);
            }
        } catch (JedisException e) {
            throw failure(what, e);
        }
    }

    /**
     * True when {@code e} says its call never reached Redis: no pooled connection was free, or none
     * could be opened (refused, unresolvable host). A timeout is not among them: it may have been
     * the reply's.
     */
    static boolean neverSent(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause())
            if (t instanceof PoolBusyException
                    || t instanceof java.net.ConnectException
                    || t instanceof java.net.UnknownHostException) return true;
        return false;
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause())
            if (t instanceof java.net.SocketTimeoutException) return true;
        return false;
    }

    private void clearIdleConnections() {
        BoundedPooledProvider server = serverProvider;
        BoundedClusterProvider clustered = clusterProvider;
        try {
            if (server != null) server.getPool().clear();
            else if (clustered != null) clustered.getNodes().values().forEach(ConnectionPool::clear);
        } catch (RuntimeException e) {
            // Nothing to drop, or the pool is closing: the retry reports the real problem.
        }
    }

    private LockingException failure(String what, JedisException e) {
        String reason;
        String next;
        if (e instanceof JedisAccessControlException) {
            reason = "authentication failed (" + e.getMessage() + ")";
            next = "check user and password (or the credentials in url) in the options of " + registration;
        } else if (e instanceof PoolBusyException) {
            reason = "every pooled connection is busy (" + e.getMessage() + ")";
            next = "raise pool.max-total in the options of " + registration + ", or make fewer calls at once";
        } else if (e instanceof JedisDataException) {
            reason = "Redis answered an error (" + e.getMessage() + ")";
            next = "check that nothing else writes keys under the provider's namespace \"" + settings.namespace
                    + "\" and that the server accepts writes";
        } else {
            reason = "cannot reach it (" + e.getMessage() + ")";
            next = "check that Redis is running and reachable from here, and the url or cluster-nodes option of "
                    + registration;
        }
        return new LockingException(
                "Redis provider " + registration + " could not " + what + " at " + settings.endpoint() + ": " + reason
                        + "; " + next + ".",
                e);
    }

    /** Where a subscriber may connect: the server, or every known cluster node. */
    List<HostAndPort> nodes() {
        if (!settings.cluster()) return List.of(settings.server);
        List<HostAndPort> nodes = new ArrayList<>();
        BoundedClusterProvider clustered = clusterProvider;
        if (clustered != null) {
            try {
                clustered.getNodes().keySet().forEach(node -> nodes.add(HostAndPort.from(node)));
            } catch (RuntimeException e) {
                // The topology is being refreshed; the seed nodes will do.
            }
        }
        for (HostAndPort seed : settings.clusterNodes) if (!nodes.contains(seed)) nodes.add(seed);
        return nodes;
    }

    @Override
    public void close() {
        UnifiedJedis current;
        synchronized (lock) {
            closed = true;
            current = client;
            client = null;
            serverProvider = null;
            clusterProvider = null;
        }
        if (current != null) current.close();
    }
}
