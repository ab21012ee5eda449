package dev.locking.postgres;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;
import dev.locking.spi.Secrets;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Where a registration's password may be given, and how it is kept out of sight. A {@code
 * password} parameter of {@code url} is taken out of the URL and handed to the pool and the driver
 * as the password property, like the {@code password} option: pgjdbc logs the URL it connects to
 * ("Connecting with URL", at FINE through java.util.logging, which applications often route to
 * their DEBUG log), and HikariCP's DEBUG listing masks a password parameter only up to a {@code #}
 * or {@code ;} that pgjdbc reads as part of it.
 */
final class PostgresCredentials {
    private static final String PARAMETER = "password";
    private static final String PREFIX = "jdbc:postgresql://";
    private static final String PORT =
            "(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?";
    private static final String HOST = "(\\[[0-9A-Fa-f:.]+]|[A-Za-z0-9._%-]*)" + PORT;
    /** What pgjdbc reads before the database: hosts with optional ports, separated by commas. */
    private static final Pattern HOSTS = Pattern.compile(HOST + "(," + HOST + ")*");

    private PostgresCredentials() {}

    /**
     * Adds a problem for each of {@code keys} that holds a list or an object: read as text, {@code
     * password = [a, b]} would become the password {@code "[a, b]"}. The value is not shown.
     */
    static void requireText(Config c, String path, List<String> problems, String... keys) {
        for (String key : keys) {
            if (!c.hasPath(key)) continue;
            ConfigValueType type = c.getValue(key).valueType();
            if (type == ConfigValueType.LIST || type == ConfigValueType.OBJECT)
                problems.add(path + "." + key + " must be a string, was "
                        + (type == ConfigValueType.LIST ? "a list" : "an object") + " (not shown)");
        }
    }

    /**
     * Adds a problem when the part of a {@code jdbc:postgresql://} URL before the database is not a
     * list of {@code host[:port]}, the only form pgjdbc reads there. A {@code user:password@} in it
     * would reach pgjdbc as a host name (and the password would show in its UnknownHostException),
     * and a port pgjdbc cannot read makes it log a warning that quotes what it found. When the URL
     * holds an {@code @} anywhere it is not shown: the password may hold a {@code / ? #} that ends
     * the part before the database early.
     */
    static void checkHosts(String url, String key, List<String> problems) {
        if (url == null || !url.startsWith(PREFIX)) return;
        String rest = url.substring(PREFIX.length());
        int end = 0;
        while (end < rest.length() && "/?#".indexOf(rest.charAt(end)) < 0) end++;
        if (HOSTS.matcher(rest.substring(0, end)).matches()) return;
        if (url.indexOf('@') >= 0)
            problems.add(key + " must not carry a user or password before the host (user:password@host): the"
                    + " PostgreSQL driver does not read them there. Set the user and password options instead (the url"
                    + " is not shown, as it may hold a password)");
        else
            problems.add(key + " must be jdbc:postgresql://host[:port][,host[:port]...]/database with ports from 1 to"
                    + " 65535, was \"" + Secrets.redactUrl(url) + "\"");
    }

    /** {@code url} without its {@code password} parameter; null for null. */
    static String withoutPassword(String url) {
        if (url == null) return null;
        int query = url.indexOf('?');
        if (query < 0) return url;
        List<String> kept = new ArrayList<>();
        for (String parameter : url.substring(query + 1).split("&", -1))
            if (!name(parameter).equals(PARAMETER)) kept.add(parameter);
        return url.substring(0, query) + (kept.isEmpty() ? "" : "?" + String.join("&", kept));
    }

    /**
     * The password of a registration: the {@code password} option, else the {@code password}
     * parameter of {@code url}, decoded as pgjdbc decodes it. Adds a problem, showing neither value,
     * when both are set and differ (the driver would use the URL's and ignore the option), when
     * {@code listenUrl} carries another password (the LISTEN connection uses the same one), or when
     * a parameter is not valid URL encoding.
     */
    static String password(String option, String url, String listenUrl, String path, List<String> problems) {
        String inUrl = parameter(url, path + ".url", problems);
        String inListenUrl = parameter(listenUrl, path + ".listen-url", problems);
        if (option != null && inUrl != null && !option.equals(inUrl))
            problems.add(path + ".url holds a password other than " + path + ".password; keep one of them");
        String password = option != null ? option : inUrl;
        if (inListenUrl != null && !inListenUrl.equals(password))
            problems.add(path + ".listen-url holds a password other than the registration's (" + path + ".password or"
                    + " the one in " + path + ".url): the LISTEN connection uses the same user and password as url");
        return password;
    }

    private static String parameter(String url, String key, List<String> problems) {
        if (url == null || url.indexOf('?') < 0) return null;
        String value = null;
        for (String parameter : url.substring(url.indexOf('?') + 1).split("&", -1)) {
            if (!name(parameter).equals(PARAMETER)) continue;
            try {
                // pgjdbc decodes parameters with URLDecoder; the last one of a name wins.
                value = URLDecoder.decode(parameter.substring(PARAMETER.length() + 1), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                problems.add(key + " has a password parameter that is not valid URL encoding (%XX); value not shown");
                return null;
            }
        }
        return value == null || value.isEmpty() ? null : value;
    }

    private static String name(String parameter) {
        int equals = parameter.indexOf('=');
        return equals < 0 ? "" : parameter.substring(0, equals);
    }
}
