package dev.locking.postgres;

import com.zaxxer.hikari.HikariDataSource;
import java.lang.reflect.Method;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.Properties;
import javax.sql.DataSource;
import org.postgresql.Driver;
import org.postgresql.ds.common.BaseDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the LISTEN connection goes: a JDBC URL and driver properties. The listener opens its own
 * connection from them and never holds one of a pool: a connection kept out of the application's
 * pool for as long as the module runs would count as active there for good and set off its leak
 * detection, and LISTEN would outlive it on a connection the pool hands out again.
 *
 * <p>Holds the password; its {@link #toString()} shows the URL with any password masked.
 */
final class ListenerTarget {
    private static final Logger log = LoggerFactory.getLogger(ListenerTarget.class);

    /** The URL's server and database part, without its query: the properties carry the rest. */
    private final String url;

    private final Properties properties;

    private ListenerTarget(String url, Properties properties) {
        this.url = url;
        this.properties = properties;
    }

    /**
     * A connection to {@code url} with {@code user} and {@code password} (either may be null: from
     * the URL, or none), plus {@code driverProperties}; the URL's own parameters win over them, as
     * they do in pgjdbc.
     */
    static ListenerTarget of(String url, String user, String password, Properties driverProperties) {
        Properties given = new Properties();
        if (driverProperties != null) driverProperties.forEach((k, v) -> given.setProperty(k.toString(), v.toString()));
        if (user != null) given.setProperty("user", user);
        if (password != null) given.setProperty("password", password);
        Properties parsed = Driver.parseURL(url, given);
        if (parsed == null)
            throw new IllegalArgumentException("not a PostgreSQL JDBC URL: " + PostgresSettings.redact(url));
        Properties merged = new Properties();
        for (String name : parsed.stringPropertyNames()) merged.setProperty(name, parsed.getProperty(name));
        int query = url.indexOf('?');
        // The host, port and database stay in the URL; parseURL also copied them into properties.
        for (String part : new String[] {"PGHOST", "PGPORT", "PGDBNAME"}) merged.remove(part);
        return new ListenerTarget(query < 0 ? url : url.substring(0, query), merged);
    }

    /**
     * The settings the application's DataSource connects with, when they can be read: a HikariCP
     * pool configured with a {@code jdbcUrl} (and its {@code dataSource} properties), pgjdbc's own
     * DataSources (also inside a HikariCP pool configured with {@code dataSourceClassName}), or any
     * DataSource with public {@code getJdbcUrl()} or {@code getUrl()}, {@code getUsername()} or
     * {@code getUser()}, and {@code getPassword()} getters and a {@code jdbc:postgresql:} URL
     * (Apache DBCP, Tomcat's pool, c3p0, Spring's DriverManagerDataSource). Empty otherwise.
     */
    static Optional<ListenerTarget> of(DataSource dataSource) {
        try {
            HikariDataSource hikari = unwrap(dataSource, HikariDataSource.class);
            if (hikari != null && hikari.getJdbcUrl() != null && isPostgres(hikari.getJdbcUrl()))
                return Optional.of(of(
                        hikari.getJdbcUrl(),
                        hikari.getUsername(),
                        hikari.getPassword(),
                        hikari.getDataSourceProperties()));
            BaseDataSource pg = unwrap(dataSource, BaseDataSource.class);
            if (pg != null) return Optional.of(of(pg.getUrl(), pg.getUser(), pg.getPassword(), null));
            return byGetters(dataSource);
        } catch (RuntimeException | LinkageError e) {
            log.debug(
                    "cannot read the connection settings of {}: {}",
                    dataSource.getClass().getName(),
                    e.toString());
            return Optional.empty();
        }
    }

    /** Opens the LISTEN connection with these settings plus {@code overrides}. */
    Connection open(Properties overrides) throws SQLException {
        Properties props = new Properties();
        props.putAll(properties);
        props.putAll(overrides);
        return PostgresLockingProvider.openListening(url, props, ListenerSocketFactory.class.getName());
    }

    /** Opens a plain connection (no listener socket) with these settings plus {@code overrides}. */
    Connection openPlain(Properties overrides) throws SQLException {
        Properties props = new Properties();
        props.putAll(properties);
        props.putAll(overrides);
        return new Driver().connect(url, props);
    }

    @Override
    public String toString() {
        return PostgresSettings.redact(url);
    }

    private static <T> T unwrap(DataSource dataSource, Class<T> type) {
        if (type.isInstance(dataSource)) return type.cast(dataSource);
        try {
            return dataSource.isWrapperFor(type) ? dataSource.unwrap(type) : null;
        } catch (SQLException | RuntimeException e) {
            // A lazily started HikariCP pool, among others, cannot unwrap before it has started.
            return null;
        }
    }

    private static Optional<ListenerTarget> byGetters(DataSource dataSource) {
        String url = getter(dataSource, "getJdbcUrl", "getUrl", "getURL");
        if (url == null || !isPostgres(url)) return Optional.empty();
        return Optional.of(
                of(url, getter(dataSource, "getUsername", "getUser"), getter(dataSource, "getPassword"), null));
    }

    private static String getter(Object target, String... names) {
        for (String name : names) {
            try {
                Method m = target.getClass().getMethod(name);
                if (m.getReturnType() == String.class) {
                    Object value = m.invoke(target);
                    if (value != null) return value.toString();
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                // No such public getter on this DataSource: try the next name.
            }
        }
        return null;
    }

    private static boolean isPostgres(String url) {
        return url.startsWith("jdbc:postgresql:");
    }
}
