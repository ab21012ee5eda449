package dev.locking.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.LockProvider;
import net.javacrumbs.shedlock.core.SimpleLock;
import net.javacrumbs.shedlock.provider.jdbc.JdbcLockProvider;
import net.javacrumbs.shedlock.provider.redis.jedis4.JedisLockProvider;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import org.redisson.Redisson;
import org.redisson.api.RLock;
import org.redisson.api.RedissonClient;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisPool;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.Response;
import redis.clients.jedis.params.SetParams;

/**
 * Everything the suite measures, by the name benchmarks take as a parameter. Each side uses the
 * same servers and connection pools of the same size: 8 PostgreSQL connections (HikariCP), 16
 * Redis connections (Jedis), and the peers' own defaults where they manage connections themselves
 * (Redisson).
 */
final class Targets {
    private Targets() {}

    /** The lease every lock under measurement is taken with, where the store takes one. */
    static final Duration LEASE = Duration.ofSeconds(30);

    /** PostgreSQL connections per pool, ours and the baselines': one per thread of the 8-thread runs. */
    static final int PG_POOL = 8;

    /** Redis connections per pool: the provider's default. */
    static final int REDIS_POOL = 16;

    /** Targets on our PostgreSQL table, which the suite brings to steady state once for all forks. */
    static final List<String> SHARED_TABLE = List.of("postgres", "postgres-sync", "postgres-async", "pgbouncer");

    /** Our providers, addressed through {@link LockingModule}. */
    static final List<String> PROVIDERS = List.of("in-memory", "postgres", "postgres-session", "pgbouncer", "redis");

    static Locker open(String name, Servers servers) {
        return switch (name) {
            case "in-memory" -> new ModuleLocker(name, registration("in-memory", Map.of()));
            case "postgres" -> new ModuleLocker(
                    name, registration("locking-postgres", postgresOptions(servers, false)));
            case "pgbouncer" -> new ModuleLocker(
                    name, registration("locking-postgres", postgresOptions(servers, true)));
            case "postgres-sync" -> new ModuleLocker(
                    name,
                    registration("locking-postgres", withSynchronousCommit(postgresOptions(servers, false), "on")));
            case "postgres-async" -> new ModuleLocker(
                    name,
                    registration("locking-postgres", withSynchronousCommit(postgresOptions(servers, false), "off")));
            case "postgres-session" -> new ModuleLocker(
                    name, registration("locking-postgres", sessionMode(postgresOptions(servers, false))));
            case "redis" -> new ModuleLocker(
                    name,
                    registration(
                            "locking-redis",
                            Map.of("url", servers.redisUrl(), "namespace", servers.namespace() + "p:")));
            case "raw-postgres" -> new RawPostgres(pool(servers, false, "raw"), false);
            case "raw-pgbouncer" -> new RawPostgres(pool(servers, true, "raw"), true);
            case "raw-redis" -> new RawRedis(servers);
            case "redisson" -> new RedissonLocker(servers);
            case "shedlock-jdbc" -> new ShedLockJdbc(pool(servers, false, "shedlock"), servers.schema());
            case "shedlock-jdbc-pgbouncer" -> new ShedLockJdbc(pool(servers, true, "shedlock"), servers.schema());
            case "shedlock-jedis" -> new ShedLockJedis(servers);
            default -> throw new IllegalArgumentException("unknown target " + name);
        };
    }

    /** ShedLock's table, as its documentation gives it for PostgreSQL. */
    static void createShedLockTable(Servers servers) {
        servers.execute("CREATE TABLE IF NOT EXISTS " + servers.schema() + ".shedlock (name VARCHAR(64) NOT NULL,"
                + " lock_until TIMESTAMP NOT NULL, locked_at TIMESTAMP NOT NULL, locked_by VARCHAR(255) NOT NULL,"
                + " PRIMARY KEY (name))");
    }

    private static Map<String, Object> postgresOptions(Servers servers, boolean throughPgBouncer) {
        Map<String, Object> options = new LinkedHashMap<>();
        options.put("url", throughPgBouncer ? servers.pgbouncerUrl() : servers.pgUrl());
        // Notifications need a session: behind the pooler, LISTEN goes straight to the server.
        if (throughPgBouncer) options.put("listen-url", servers.pgUrl());
        if (servers.pgUser() != null) options.put("user", servers.pgUser());
        if (servers.pgPassword() != null) options.put("password", servers.pgPassword());
        options.put("schema", servers.schema());
        options.put("pool", Map.of("maximumPoolSize", PG_POOL, "minimumIdle", PG_POOL));
        return options;
    }

    /**
     * Session mode on as many server sessions as the raw baseline has connections ({@value
     * #PG_POOL}), so that the two are compared on the same number of connections. The pool, shared
     * with table mode, serves waiters' queue rows; an uncontended pair uses only the sessions.
     */
    private static Map<String, Object> sessionMode(Map<String, Object> options) {
        Map<String, Object> copy = new LinkedHashMap<>(options);
        copy.put("mode", "session");
        copy.put("sessions", PG_POOL);
        return copy;
    }

    private static Map<String, Object> withSynchronousCommit(Map<String, Object> options, String mode) {
        Map<String, Object> copy = new LinkedHashMap<>(options);
        copy.put("synchronous-commit", mode);
        return copy;
    }

    private static final java.util.concurrent.atomic.AtomicInteger REGISTRATIONS =
            new java.util.concurrent.atomic.AtomicInteger();

    /**
     * A registration with an id of its own ({@code bench<n>}), so that its connections can be told
     * apart on the server from those of registrations opened before (PgBouncer keeps their server
     * connections, and their application names, after they closed).
     */
    static Config registration(String resolve, Map<String, Object> options) {
        String id = "bench" + REGISTRATIONS.incrementAndGet();
        return ConfigFactory.empty()
                .withValue(
                        "locking.providers",
                        ConfigValueFactory.fromIterable(
                                List.of(Map.of("resolve", resolve, "id", id, "options", options))))
                .withValue("locking.migrate-on-start", ConfigValueFactory.fromAnyRef(false));
    }

    /**
     * Migrates the run's schema once, directly (Flyway does not work through a transaction-mode
     * pooler), and creates ShedLock's table next to ours.
     */
    static void prepareSchema(Servers servers) {
        try (LockingModule module =
                LockingModule.create(registration("locking-postgres", postgresOptions(servers, false)))) {
            module.migrate();
        }
        createShedLockTable(servers);
        try (Locker ours = open("postgres", servers)) {
            LockBenchmark.touchEveryKey(ours);
        } catch (Exception e) {
            throw new IllegalStateException("could not touch every key", e);
        }
    }

    /** A HikariCP pool like the provider's: same size, same driver; unnamed statements behind PgBouncer. */
    static HikariDataSource pool(Servers servers, boolean throughPgBouncer, String purpose) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(throughPgBouncer ? servers.pgbouncerUrl() : servers.pgUrl());
        if (servers.pgUser() != null) config.setUsername(servers.pgUser());
        if (servers.pgPassword() != null) config.setPassword(servers.pgPassword());
        config.setMaximumPoolSize(PG_POOL);
        config.setMinimumIdle(PG_POOL);
        config.setPoolName("bench-" + purpose);
        config.addDataSourceProperty("ApplicationName", "dev.locking bench " + purpose);
        // Named server-side statements do not survive a transaction-mode pooler.
        if (throughPgBouncer) config.addDataSourceProperty("prepareThreshold", "0");
        return new HikariDataSource(config);
    }

    // ---- ours ------------------------------------------------------------------------------------

    static final class ModuleLocker implements Locker {
        final String name;
        final LockingModule module;
        /** The registration's address, e.g. {@code lp_bench3}: the suffix of its connections' names. */
        final String address;

        ModuleLocker(String name, Config config) {
            this.name = name;
            this.module = LockingModule.create(config);
            this.address = module.providers().get(0).address();
        }

        @Override
        public Caller caller(int index) {
            LockOptions mine = LockOptions.defaults().owner("bench-" + index).expire(LEASE);
            LockOptions now = LockOptions.defaults().timeout(Duration.ZERO);
            LockOptions waiting = LockOptions.defaults().timeout(Duration.ofMinutes(5));
            return new Caller() {
                @Override
                public boolean tryLock(String key) {
                    try {
                        module.acquire(key, mine);
                        return true;
                    } catch (LockAcquisitionException e) {
                        return false;
                    }
                }

                @Override
                public void unlock(String key) {
                    module.release(key, mine);
                }

                @Override
                public boolean tryLockAll(List<String> keys) {
                    try {
                        module.acquire(keys, mine);
                        return true;
                    } catch (LockAcquisitionException e) {
                        return false;
                    }
                }

                @Override
                public void unlockAll(List<String> keys) {
                    module.release(keys, mine);
                }

                @Override
                public boolean execute(String key, Runnable job) {
                    try {
                        module.execute(
                                key,
                                lock -> {
                                    job.run();
                                    return null;
                                },
                                now);
                        return true;
                    } catch (LockAcquisitionException e) {
                        return false;
                    }
                }

                @Override
                public void runLocked(String key, Runnable job) {
                    module.execute(
                            key,
                            lock -> {
                                job.run();
                                return null;
                            },
                            waiting);
                }
            };
        }

        @Override
        public void close() {
            module.close();
        }
    }

    // ---- the physical limit ------------------------------------------------------------------------

    /**
     * Advisory locks and nothing else. Direct: {@code pg_try_advisory_lock} then {@code
     * pg_advisory_unlock}, session locks, so the caller keeps its connection while it holds the lock.
     * Behind a transaction-mode PgBouncer a session lock would be taken on one server connection and
     * released on another, so there the pair is {@code pg_try_advisory_xact_lock} in a transaction
     * that the release commits (two round trips, the connection held in between).
     */
    static final class RawPostgres implements Locker {
        private final HikariDataSource pool;
        private final boolean transactional;

        RawPostgres(HikariDataSource pool, boolean transactional) {
            this.pool = pool;
            this.transactional = transactional;
        }

        @Override
        public Caller caller(int index) {
            return new Caller() {
                private Connection held;

                @Override
                public boolean tryLock(String key) {
                    return take(
                            transactional
                                    ? "SELECT pg_try_advisory_xact_lock(hashtextextended(?, 0))"
                                    : "SELECT pg_try_advisory_lock(hashtextextended(?, 0))",
                            key);
                }

                @Override
                public boolean tryLockAll(List<String> keys) {
                    return take(
                            transactional
                                    ? "SELECT bool_and(pg_try_advisory_xact_lock(hashtextextended(k, 0)))"
                                            + " FROM unnest(?::text[]) AS k"
                                    : "SELECT bool_and(pg_try_advisory_lock(hashtextextended(k, 0)))"
                                            + " FROM unnest(?::text[]) AS k",
                            keys);
                }

                private boolean take(String sql, Object keyOrKeys) {
                    try {
                        Connection c = pool.getConnection();
                        boolean ok;
                        try {
                            if (transactional) c.setAutoCommit(false);
                            try (PreparedStatement ps = c.prepareStatement(sql)) {
                                bind(c, ps, keyOrKeys);
                                try (ResultSet rs = ps.executeQuery()) {
                                    rs.next();
                                    ok = rs.getBoolean(1);
                                }
                            }
                        } catch (SQLException | RuntimeException e) {
                            c.close();
                            throw e;
                        }
                        held = c;
                        if (!ok) release(keyOrKeys);
                        return ok;
                    } catch (SQLException e) {
                        throw new IllegalStateException(e);
                    }
                }

                @Override
                public void unlock(String key) {
                    release(key);
                }

                @Override
                public void unlockAll(List<String> keys) {
                    release(keys);
                }

                private void release(Object keyOrKeys) {
                    Connection c = held;
                    held = null;
                    try (c) {
                        if (transactional) {
                            c.commit(); // frees the transaction's advisory locks
                            c.setAutoCommit(true);
                            return;
                        }
                        String sql = keyOrKeys instanceof String
                                ? "SELECT pg_advisory_unlock(hashtextextended(?, 0))"
                                : "SELECT count(*) FILTER (WHERE pg_advisory_unlock(hashtextextended(k, 0)))"
                                        + " FROM unnest(?::text[]) AS k";
                        try (PreparedStatement ps = c.prepareStatement(sql)) {
                            bind(c, ps, keyOrKeys);
                            try (ResultSet rs = ps.executeQuery()) {
                                rs.next();
                            }
                        }
                    } catch (SQLException e) {
                        throw new IllegalStateException(e);
                    }
                }

                @Override
                public void runLocked(String key, Runnable job) {
                    throw new UnsupportedOperationException("the raw baselines are measured uncontended");
                }
            };
        }

        private static void bind(Connection c, PreparedStatement ps, Object keyOrKeys) throws SQLException {
            if (keyOrKeys instanceof String key) ps.setString(1, "raw:" + key);
            else {
                List<?> keys = (List<?>) keyOrKeys;
                String[] prefixed = new String[keys.size()];
                for (int i = 0; i < prefixed.length; i++) prefixed[i] = "raw:" + keys.get(i);
                ps.setArray(1, c.createArrayOf("text", prefixed));
            }
        }

        @Override
        public void close() {
            pool.close();
        }
    }

    /** {@code SET key token NX PX lease}, then a compare-and-delete script run by its SHA. */
    static final class RawRedis implements Locker {
        private static final String DELETE_IF_MINE = "for i = 1, #KEYS do"
                + " if redis.call('get', KEYS[i]) == ARGV[i] then redis.call('del', KEYS[i]) end end return 1";
        private final RedisClient client;
        private final String sha;
        private final String prefix;

        RawRedis(Servers servers) {
            ConnectionPoolConfig pool = new ConnectionPoolConfig();
            pool.setMaxTotal(REDIS_POOL);
            pool.setMaxIdle(REDIS_POOL);
            pool.setJmxEnabled(false);
            URI uri = URI.create(servers.redisUrl());
            this.client = RedisClient.builder()
                    .hostAndPort(new HostAndPort(uri.getHost(), uri.getPort()))
                    .clientConfig(DefaultJedisClientConfig.builder()
                            .resp2()
                            .clientName("bench-raw")
                            .build())
                    .poolConfig(pool)
                    .build();
            this.sha = client.scriptLoad(DELETE_IF_MINE);
            this.prefix = servers.namespace() + "raw:";
        }

        @Override
        public Caller caller(int index) {
            SetParams nxPx = SetParams.setParams().nx().px(LEASE.toMillis());
            String token = "bench-" + index + "-" + System.nanoTime();
            return new Caller() {
                @Override
                public boolean tryLock(String key) {
                    return "OK".equals(client.set(prefix + key, token, nxPx));
                }

                @Override
                public void unlock(String key) {
                    client.evalsha(sha, List.of(prefix + key), List.of(token));
                }

                @Override
                public boolean tryLockAll(List<String> keys) {
                    List<Response<String>> replies = new ArrayList<>(keys.size());
                    try (AbstractPipeline pipeline = client.pipelined()) {
                        for (String key : keys) replies.add(pipeline.set(prefix + key, token, nxPx));
                        pipeline.sync();
                    }
                    for (Response<String> r : replies)
                        if (!"OK".equals(r.get())) {
                            unlockAll(keys);
                            return false;
                        }
                    return true;
                }

                @Override
                public void unlockAll(List<String> keys) {
                    List<String> recordKeys = new ArrayList<>(keys.size());
                    List<String> tokens = new ArrayList<>(keys.size());
                    for (String key : keys) {
                        recordKeys.add(prefix + key);
                        tokens.add(token);
                    }
                    client.evalsha(sha, recordKeys, tokens);
                }

                @Override
                public void runLocked(String key, Runnable job) {
                    throw new UnsupportedOperationException("the raw baselines are measured uncontended");
                }
            };
        }

        @Override
        public void close() {
            client.close();
        }
    }

    // ---- peers -------------------------------------------------------------------------------------

    /** Redisson's {@code RLock}: {@code tryLock(0, lease)} / {@code unlock}, {@code lock()} to wait. */
    static final class RedissonLocker implements Locker {
        final RedissonClient redisson;
        private final String prefix;

        RedissonLocker(Servers servers) {
            org.redisson.config.Config config = new org.redisson.config.Config();
            config.useSingleServer().setAddress(servers.redisUrl()).setClientName("bench-redisson");
            this.redisson = Redisson.create(config);
            this.prefix = servers.namespace() + "rsn:";
        }

        @Override
        public Caller caller(int index) {
            return new Caller() {
                @Override
                public boolean tryLock(String key) {
                    try {
                        return redisson.getLock(prefix + key).tryLock(0, LEASE.toMillis(), TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                }

                @Override
                public void unlock(String key) {
                    redisson.getLock(prefix + key).unlock();
                }

                private RLock multi(List<String> keys) {
                    RLock[] locks = new RLock[keys.size()];
                    for (int i = 0; i < locks.length; i++) locks[i] = redisson.getLock(prefix + keys.get(i));
                    return redisson.getMultiLock(locks);
                }

                @Override
                public boolean tryLockAll(List<String> keys) {
                    try {
                        return multi(keys).tryLock(0, LEASE.toMillis(), TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                }

                @Override
                public void unlockAll(List<String> keys) {
                    multi(keys).unlock();
                }

                @Override
                public void runLocked(String key, Runnable job) {
                    RLock lock = redisson.getLock(prefix + key);
                    lock.lock();
                    try {
                        job.run();
                    } finally {
                        lock.unlock();
                    }
                }
            };
        }

        @Override
        public void close() {
            redisson.shutdown();
        }
    }

    /** ShedLock has no blocking wait: a waiter tries again every {@value #POLL_MILLIS} ms. */
    abstract static class ShedLockLocker implements Locker {
        static final long POLL_MILLIS = 10;
        private final LockProvider provider;

        ShedLockLocker(LockProvider provider) {
            this.provider = provider;
        }

        @Override
        public Caller caller(int index) {
            Map<String, SimpleLock> held = new HashMap<>();
            return new Caller() {
                @Override
                public boolean tryLock(String key) {
                    Optional<SimpleLock> lock =
                            provider.lock(new LockConfiguration(Instant.now(), key, LEASE, Duration.ZERO));
                    lock.ifPresent(l -> held.put(key, l));
                    return lock.isPresent();
                }

                @Override
                public void unlock(String key) {
                    held.remove(key).unlock();
                }

                @Override
                public void runLocked(String key, Runnable job) {
                    while (!tryLock(key)) LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(POLL_MILLIS));
                    try {
                        job.run();
                    } finally {
                        unlock(key);
                    }
                }
            };
        }
    }

    /** ShedLock's plain-JDBC provider (an insert, then updates of its row; each a commit). */
    static final class ShedLockJdbc extends ShedLockLocker {
        private final HikariDataSource pool;

        ShedLockJdbc(HikariDataSource pool, String schema) {
            super(new JdbcLockProvider(pool, schema + ".shedlock"));
            this.pool = pool;
        }

        @Override
        public void close() {
            pool.close();
        }
    }

    /**
     * ShedLock's Jedis provider (SET NX PX; unlock by a plain DEL, or a SET of the shorter lease). It
     * takes only a {@code Pool<Jedis>}, which Jedis 8 deprecates in favour of {@code RedisClient}.
     */
    @SuppressWarnings("deprecation")
    static final class ShedLockJedis extends ShedLockLocker {
        private final JedisPool pool;

        ShedLockJedis(Servers servers) {
            this(jedisPool(servers), servers.namespace() + "shed");
        }

        private ShedLockJedis(JedisPool pool, String environment) {
            super(new JedisLockProvider(pool, environment));
            this.pool = pool;
        }

        private static JedisPool jedisPool(Servers servers) {
            GenericObjectPoolConfig<Jedis> config = new GenericObjectPoolConfig<>();
            config.setMaxTotal(REDIS_POOL);
            config.setMaxIdle(REDIS_POOL);
            config.setJmxEnabled(false);
            URI uri = URI.create(servers.redisUrl());
            return new JedisPool(
                    config,
                    new HostAndPort(uri.getHost(), uri.getPort()),
                    DefaultJedisClientConfig.builder()
                            .resp2()
                            .clientName("bench-shedlock")
                            .build());
        }

        @Override
        public void close() {
            pool.close();
        }
    }
}
