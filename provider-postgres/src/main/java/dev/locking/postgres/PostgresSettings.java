package dev.locking.postgres;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.zaxxer.hikari.HikariConfig;
import dev.locking.api.LockingConfigurationException;
import dev.locking.spi.Secrets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The options of one registration, read and checked at once: every problem is reported together,
 * each under its full key path. Holds the password, so it has no {@code toString} that shows it.
 */
final class PostgresSettings {

    enum Notifications {
        LISTEN,
        POLL
    }

    /** How a lock is held: a row per lock, or a session-level advisory lock on one of the provider's own sessions. */
    enum Mode {
        TABLE,
        SESSION
    }

    static final Set<String> KEYS = Set.of(
            "url",
            "user",
            "password",
            "schema",
            "notifications",
            "listen-url",
            "poll-interval",
            "waiter-expiry",
            "statement-timeout",
            "lock-timeout",
            "synchronous-commit",
            "cleanup-interval",
            "mode",
            "sessions",
            "session-timeout",
            "pool");

    /** HikariCP properties that would bypass url/user/password or the pool we build. */
    private static final Set<String> RESERVED_POOL_KEYS =
            Set.of("jdbcUrl", "username", "password", "dataSourceClassName", "dataSourceJNDI", "driverClassName");

    /** The schema when none is configured; the jar's reference.conf says the same. */
    static final String DEFAULT_SCHEMA = "locking";

    private static final Pattern SCHEMA = Pattern.compile("[a-z_][a-z0-9_]{0,49}");

    final String url;
    final String listenUrl;
    final String user;
    final String password;
    final String schema;
    final Notifications notifications;
    final Duration pollInterval;
    final Duration waiterExpiry;
    final Duration statementTimeout;
    final Duration lockTimeout;
    /** How often expired lock rows and dead queue entries are removed (the cleanup-interval option). */
    final Duration cleanupInterval;
    /** Which lock calls wait for their commit's WAL flush (the synchronous-commit option). */
    final SynchronousCommit synchronousCommit;

    final Properties pool;

    /** The mode option. */
    final Mode mode;
    /** Session mode: how many server sessions of its own the provider holds its locks on. */
    final int sessions;
    /**
     * Session mode: the server ends a session idle for this long (idle_session_timeout), freeing its
     * locks; the provider keeps its live sessions busy well within it.
     */
    final Duration sessionTimeout;

    private PostgresSettings(Config c, List<String> problems, String path, boolean hasDataSource) {
        PostgresCredentials.requireText(c, path, problems, "url", "listen-url", "user", "password");
        url = PostgresCredentials.withoutPassword(text(c, "url"));
        listenUrl = PostgresCredentials.withoutPassword(text(c, "listen-url"));
        user = text(c, "user");
        password = PostgresCredentials.password(
                text(c, "password"), text(c, "url"), text(c, "listen-url"), path, problems);
        schema = text(c, "schema") == null ? DEFAULT_SCHEMA : text(c, "schema");
        if (!SCHEMA.matcher(schema).matches())
            problems.add(path + ".schema must be a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 50"
                    + " characters), was \"" + schema + "\"");
        if (url == null && !hasDataSource)
            problems.add(path + ".url is required: set it to the database's JDBC URL"
                    + " (jdbc:postgresql://host:5432/db), or hand the module a DataSource with"
                    + " LockingModule.builder().dataSource(\"<id>\", dataSource)");
        checkJdbcUrl(url, path + ".url", problems);
        checkJdbcUrl(listenUrl, path + ".listen-url", problems);

        String mode = text(c, "notifications");
        Notifications parsed = Notifications.LISTEN;
        if (mode != null) {
            try {
                parsed = Notifications.valueOf(mode.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                problems.add(path + ".notifications must be listen or poll, was \"" + mode + "\"");
            }
        }
        notifications = parsed;

        pollInterval = duration(c, "poll-interval", Duration.ofMillis(250), Duration.ofMillis(1), path, problems);
        waiterExpiry = duration(c, "waiter-expiry", Duration.ofSeconds(3), Duration.ofMillis(1), path, problems);
        statementTimeout =
                duration(c, "statement-timeout", Duration.ofSeconds(3), Duration.ofSeconds(1), path, problems);
        lockTimeout = duration(c, "lock-timeout", Duration.ofSeconds(2), Duration.ofMillis(1), path, problems);
        cleanupInterval = duration(c, "cleanup-interval", Duration.ofMinutes(1), Duration.ofSeconds(1), path, problems);
        if (waiterExpiry.compareTo(pollInterval.multipliedBy(3)) < 0)
            problems.add(path + ".waiter-expiry must be at least 3 x poll-interval (" + pollInterval.multipliedBy(3)
                    + "), was " + waiterExpiry + ": live waiters would lose their place in the queue");

        synchronousCommit = synchronousCommit(c, path, problems);
        pool = poolProperties(c, path + ".pool", problems);

        String modeText = text(c, "mode");
        Mode parsedMode = Mode.TABLE;
        if (modeText != null) {
            try {
                parsedMode = Mode.valueOf(modeText.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                problems.add(path + ".mode must be table or session, was \"" + modeText + "\"");
            }
        }
        this.mode = parsedMode;
        int parsedSessions = 4;
        if (c.hasPath("sessions")) {
            Object value = c.getValue("sessions").unwrapped();
            if (value instanceof Number n && n.doubleValue() == n.intValue() && n.intValue() >= 1 && n.intValue() <= 64)
                parsedSessions = n.intValue();
            else problems.add(path + ".sessions must be a whole number from 1 to 64, was \"" + value + "\"");
        }
        sessions = parsedSessions;
        sessionTimeout = duration(c, "session-timeout", Duration.ofSeconds(10), Duration.ofSeconds(2), path, problems);
    }

    /**
     * Reads and validates {@code options} (already merged over the jar's reference.conf by core).
     *
     * @throws LockingConfigurationException listing every problem
     */
    static PostgresSettings parse(Map<String, Object> options, String path, boolean hasDataSource) {
        List<String> problems = new ArrayList<>();
        for (String key : new TreeMap<>(options).keySet())
            if (!KEYS.contains(key))
                problems.add(path + "." + key + " is not an option of locking-postgres; the options are "
                        + new java.util.TreeSet<>(KEYS));
        Config config;
        try {
            config = ConfigFactory.parseMap(options, "options of " + path);
        } catch (ConfigException e) {
            throw new LockingConfigurationException(path + " cannot be read: " + e.getMessage(), e);
        }
        PostgresSettings settings = new PostgresSettings(config, problems, path, hasDataSource);
        if (!problems.isEmpty()) throw new LockingConfigurationException(problems);
        return settings;
    }

    /** The NOTIFY channel of this schema's released keys (payload: the key). */
    String channel() {
        return "locking_" + schema;
    }

    /** HikariCP's configuration for the pool this registration opens. */
    HikariConfig hikariConfig(String registration) {
        HikariConfig config = new HikariConfig(pool);
        config.setJdbcUrl(url);
        if (user != null) config.setUsername(user);
        if (password != null) config.setPassword(password);
        if (config.getPoolName() == null) config.setPoolName("locking-" + registration);
        Properties driver = config.getDataSourceProperties();
        driver.putIfAbsent("ApplicationName", "dev.locking lp_" + registration);
        // A dead network must not hang a call forever; the query timeout fires first.
        driver.putIfAbsent("socketTimeout", String.valueOf(statementTimeout.toSeconds() + 10));
        driver.putIfAbsent("tcpKeepAlive", "true");
        return config;
    }

    /**
     * A small pool of its own for {@code migrate}: the lock calls' socket timeout (statement-timeout
     * + 10 s) is far too short for a migration that rewrites a big table.
     */
    HikariConfig migrationConfig(String registration) {
        HikariConfig config = hikariConfig(registration);
        config.setPoolName(config.getPoolName() + "-migrate");
        config.setMaximumPoolSize(2); // Flyway holds a second connection while it migrates
        config.setMinimumIdle(0);
        if (!pool.containsKey("dataSource.socketTimeout"))
            config.getDataSourceProperties().put("socketTimeout", "0");
        return config;
    }

    /** {@code url} with any password in it replaced, fit for logs and messages. */
    static String redact(String url) {
        return Secrets.redactUrl(url);
    }

    @Override
    public String toString() {
        return "PostgresSettings{url=" + redact(url) + ", listenUrl=" + redact(listenUrl) + ", user=" + user
                + ", password=" + (password == null ? "<none>" : "<masked>") + ", schema=" + schema
                + ", notifications=" + notifications + ", pollInterval=" + pollInterval + "}";
    }

    /**
     * Refuses a URL the driver cannot use, before any connection is tried, with a message that
     * shows no secret: the driver would take {@code user:password@host} for a host name (and put
     * the password in its UnknownHostException), and it logs a raw warning for a bad port.
     */
    private static void checkJdbcUrl(String url, String key, List<String> problems) {
        if (url == null) return;
        if (!url.startsWith("jdbc:postgresql:")) {
            problems.add(
                    key + " must be a PostgreSQL JDBC URL starting with jdbc:postgresql:, was \"" + redact(url) + "\"");
            return;
        }
        int before = problems.size();
        PostgresCredentials.checkHosts(url, key, problems);
        if (problems.size() == before && org.postgresql.Driver.parseURL(url, null) == null)
            problems.add(key + " is not a JDBC URL the PostgreSQL driver can read: \"" + redact(url) + "\"");
    }

    private static String text(Config c, String key) {
        if (!c.hasPath(key)) return null;
        String value = c.getValue(key).unwrapped().toString().trim();
        return value.isEmpty() ? null : value;
    }

    /**
     * The synchronous-commit option: which lock calls wait for the WAL flush of their commit.
     *
     * <ul>
     *   <li>{@code ON}: every call; a grant, a renewal and a release each survive any crash of the
     *       database server.
     *   <li>{@code GRANTS} (the default): calls that grant or extend a lock wait; the release of a lock
     *       that has a lease does not. A crash may forget such a release, and the lock is then held
     *       again until its lease ends; nothing is ever granted twice, because the key's next acquire
     *       commits durably and its flush carries the release with it. An acquire that is refused
     *       does not wait either: a crash can only cost a waiter its place in line.
     *   <li>{@code OFF}: none; a crash may forget grants too.
     * </ul>
     */
    enum SynchronousCommit {
        ON,
        GRANTS,
        OFF
    }

    private static SynchronousCommit synchronousCommit(Config c, String path, List<String> problems) {
        String key = "synchronous-commit";
        if (!c.hasPath(key)) return SynchronousCommit.GRANTS;
        Object value = c.getValue(key).unwrapped();
        String text = String.valueOf(value).toLowerCase(Locale.ROOT);
        switch (text) {
            case "on", "true", "yes":
                return SynchronousCommit.ON;
            case "off", "false", "no":
                return SynchronousCommit.OFF;
            case "grants":
                return SynchronousCommit.GRANTS;
            default:
                problems.add(path + "." + key + " must be on, grants or off, was \"" + value + "\"");
                return SynchronousCommit.GRANTS;
        }
    }

    private static Duration duration(
            Config c, String key, Duration fallback, Duration min, String path, List<String> problems) {
        if (!c.hasPath(key)) return fallback;
        try {
            Duration d = c.getDuration(key);
            if (d.compareTo(min) < 0) {
                problems.add(path + "." + key + " must be at least " + min + ", was " + d);
                return fallback;
            }
            // The driver's socket timeout and PostgreSQL's own timeouts are ints of milliseconds.
            if (d.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) > 0) {
                problems.add(path + "." + key + " must be at most 2147483647 ms (24 days), was "
                        + c.getValue(key).unwrapped());
                return fallback;
            }
            return d;
        } catch (ConfigException e) {
            problems.add(path + "." + key + " must be a duration such as 250ms or 3s, was \""
                    + c.getValue(key).unwrapped() + "\"");
            return fallback;
        }
    }

    /**
     * The {@code pool} subtree flattened to HikariCP property names ({@code dataSource { a = 1 }}
     * becomes {@code dataSource.a}); each name is tried on a throw-away HikariConfig so that every
     * unknown one is reported, not only the first.
     */
    private static Properties poolProperties(Config c, String path, List<String> problems) {
        Properties props = new Properties();
        if (!c.hasPath("pool")) return props;
        Object raw = c.getValue("pool").unwrapped();
        if (!(raw instanceof Map<?, ?> map)) {
            problems.add(path + " must be an object of HikariCP properties");
            return props;
        }
        flatten("", map, props);
        for (String name :
                new TreeMap<>(props).keySet().stream().map(Object::toString).toList()) {
            if (RESERVED_POOL_KEYS.contains(name)) {
                problems.add(path + "." + name + " is not allowed: set the connection with the provider's url, user"
                        + " and password options");
                continue;
            }
            Properties one = new Properties();
            one.setProperty(name, props.getProperty(name));
            try {
                new HikariConfig(one);
            } catch (RuntimeException e) {
                // HikariCP wraps what its setter threw (InvocationTargetException); the setter's own message says why.
                Throwable why = e;
                while (why.getCause() != null && why.getCause() != why) why = why.getCause();
                problems.add(path + "." + name + " is not a valid HikariCP property ("
                        + (why.getMessage() == null ? why.getClass().getSimpleName() : why.getMessage()) + ")");
            }
        }
        if (problems.stream().noneMatch(p -> p.startsWith(path + "."))) {
            try {
                HikariConfig probe = new HikariConfig(props);
                probe.setJdbcUrl("jdbc:postgresql://localhost/probe");
                probe.validate();
            } catch (RuntimeException e) {
                problems.add(path + " is not a valid HikariCP configuration: " + e.getMessage());
            }
        }
        return props;
    }

    private static void flatten(String prefix, Map<?, ?> map, Properties into) {
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = prefix + e.getKey();
            if (e.getValue() instanceof Map<?, ?> nested) flatten(name + ".", nested, into);
            else if (e.getValue() != null) into.setProperty(name, e.getValue().toString());
        }
    }
}
