package dev.locking.bench;

import dev.locking.testkit.servers.PgBouncerServer;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Where the servers of one suite run are. The suite's own JVM finds them (the test fixtures'
 * discovery: local ports first), starts one PgBouncer, creates one schema and one Redis namespace
 * for the run, and hands all of it to the JMH forks as system properties, so every fork measures
 * the same servers and the same (already warmed) tables.
 */
record Servers(
        String pgUrl,
        String pgUser,
        String pgPassword,
        String pgbouncerUrl,
        String redisUrl,
        String schema,
        String namespace) {

    private static final String PREFIX = "bench.";

    /**
     * Finds or starts the servers and prepares a schema and a namespace for this run; PgBouncer only
     * when {@code pgBouncer} (else {@link #pgbouncerUrl()} is null).
     */
    static Servers discover(boolean pgBouncer) {
        PostgresServer pg = PostgresServer.shared();
        PgBouncerServer bouncer = pgBouncer ? PgBouncerServer.shared() : null;
        RedisServer redis = RedisServer.shared();
        String schema = pg.newSchema("bench");
        String namespace = "bench:" + Long.toString(System.currentTimeMillis(), 36) + ":";
        return new Servers(
                pg.jdbcUrl(),
                pg.user(),
                pg.password(),
                bouncer == null ? null : bouncer.jdbcUrl(),
                redis.url(),
                schema,
                namespace);
    }

    /** The servers the suite's JVM handed this fork. */
    static Servers fromProperties() {
        String url = System.getProperty(PREFIX + "pgUrl");
        if (url == null)
            throw new IllegalStateException(
                    "run the benchmarks through dev.locking.bench.BenchSuite (locking-bench/run.sh)"
                            + ": it finds the servers and passes them to each JMH fork");
        return new Servers(
                url,
                System.getProperty(PREFIX + "pgUser"),
                System.getProperty(PREFIX + "pgPassword"),
                System.getProperty(PREFIX + "pgbouncerUrl"),
                System.getProperty(PREFIX + "redisUrl"),
                System.getProperty(PREFIX + "schema"),
                System.getProperty(PREFIX + "namespace"));
    }

    /** The JVM arguments that make {@link #fromProperties()} return these servers in a fork. */
    List<String> jvmArgs() {
        List<String> args = new ArrayList<>();
        args.add("-D" + PREFIX + "pgUrl=" + pgUrl);
        if (pgUser != null) args.add("-D" + PREFIX + "pgUser=" + pgUser);
        if (pgPassword != null) args.add("-D" + PREFIX + "pgPassword=" + pgPassword);
        if (pgbouncerUrl != null) args.add("-D" + PREFIX + "pgbouncerUrl=" + pgbouncerUrl);
        args.add("-D" + PREFIX + "redisUrl=" + redisUrl);
        args.add("-D" + PREFIX + "schema=" + schema);
        args.add("-D" + PREFIX + "namespace=" + namespace);
        return args;
    }

    Properties jdbcProperties(String applicationName) {
        Properties props = new Properties();
        if (pgUser != null) props.setProperty("user", pgUser);
        if (pgPassword != null) props.setProperty("password", pgPassword);
        props.setProperty("ApplicationName", applicationName);
        return props;
    }

    /** Runs one administrative statement on a direct connection. */
    void execute(String sql) {
        try (Connection c = DriverManager.getConnection(pgUrl, jdbcProperties("dev.locking bench admin"));
                Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("\"" + sql + "\" failed: " + e.getMessage(), e);
        }
    }
}
