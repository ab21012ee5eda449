package dev.locking.redis;

import dev.locking.api.LockingException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPool;
import redis.clients.jedis.JedisCluster;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.executors.ClusterCommandExecutor;
import redis.clients.jedis.providers.ClusterConnectionProvider;
import redis.clients.jedis.providers.ConnectionProvider;

/**
 * Checks at start-up that the Jedis on the classpath is one this provider runs with, so that an
 * unsuitable version fails the start with the version it needs instead of a {@link LinkageError}
 * on the first call (which, for a registration used only in production, would be in production).
 *
 * <p>The provider uses only API that Jedis {@value #OLDEST} to 8.0 all have; the members it
 * depends on beyond the everyday commands are probed here, by reflection, once per JVM.
 */
final class JedisSupport {
    /** The oldest Jedis the provider is built and tested for (Spring Boot 3.5 manages it). */
    static final String OLDEST = "6.0.0";

    private static volatile String checked;

    private JedisSupport() {}

    /**
     * @throws LockingException naming the Jedis found and the one required, when the classpath's
     *     Jedis is older than {@value #OLDEST} or lacks a member the provider calls
     */
    static void check() {
        if (checked != null) return;
        String version = version();
        List<String> missing;
        try {
            missing = missingMembers();
        } catch (LinkageError e) {
            // So old that a class the provider names is missing altogether.
            missing = List.of(e.toString());
        }
        if (!missing.isEmpty() || (version != null && older(version, OLDEST)))
            throw new LockingException("The Redis provider (locking-redis) needs Jedis " + OLDEST
                    + " or later (redis.clients:jedis), but the classpath has "
                    + (version == null ? "a Jedis of unknown version" : "Jedis " + version)
                    + (missing.isEmpty() ? "" : " without " + String.join(", ", missing))
                    + ". Depend on redis.clients:jedis " + OLDEST + " or later (Spring Boot 3.5 and later manage"
                    + " one), or remove the older version that wins dependency resolution.");
        checked = version == null ? "unknown" : version;
    }

    /** The version of the Jedis jar on the classpath, from its Maven metadata; null when absent. */
    static String version() {
        try (InputStream in = UnifiedJedis.class.getResourceAsStream("/redis/clients/jedis/pom.properties")) {
            if (in == null) return null;
            Properties properties = new Properties();
            properties.load(in);
            return properties.getProperty("version");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** True when {@code version} (e.g. "5.2.0", "7.0.0-beta1") is older than {@code oldest}. */
    static boolean older(String version, String oldest) {
        int[] found = numbers(version);
        int[] wanted = numbers(oldest);
        for (int i = 0; i < wanted.length; i++) {
            int f = i < found.length ? found[i] : 0;
            if (f != wanted[i]) return f < wanted[i];
        }
        return false;
    }

    private static int[] numbers(String version) {
        String[] parts = version.split("[.-]");
        List<Integer> numbers = new ArrayList<>();
        for (String part : parts) {
            if (!part.matches("\\d+")) break;
            numbers.add(Integer.parseInt(part));
        }
        return numbers.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The members RedisStore needs that Jedis versions have added, moved or removed. */
    @SuppressWarnings("deprecation") // JedisCluster: deprecated in Jedis 8, still the cluster client 6 to 8 share
    private static List<String> missingMembers() {
        List<String> missing = new ArrayList<>();
        constructor(missing, UnifiedJedis.class, ConnectionProvider.class, RedisProtocol.class);
        constructor(missing, JedisCluster.class, ClusterConnectionProvider.class, int.class, Duration.class);
        constructor(missing, ClusterCommandExecutor.class, ClusterConnectionProvider.class, int.class, Duration.class);
        try {
            Field field = UnifiedJedis.class.getDeclaredField("commandObjects");
            if (java.lang.reflect.Modifier.isPrivate(field.getModifiers()))
                missing.add("UnifiedJedis.commandObjects (private)");
        } catch (NoSuchFieldException e) {
            missing.add("UnifiedJedis.commandObjects");
        }
        try {
            ConnectionPool.class.getMethod("borrowObject", Duration.class);
            Connection.class.getMethod("setHandlingPool", ConnectionPool.class);
            ClusterConnectionProvider.class.getMethod("getNodes");
        } catch (NoSuchMethodException e) {
            missing.add(e.getMessage());
        }
        return missing;
    }

    private static void constructor(List<String> missing, Class<?> type, Class<?>... parameters) {
        try {
            type.getDeclaredConstructor(parameters);
        } catch (NoSuchMethodException e) {
            List<String> names = new ArrayList<>();
            for (Class<?> p : parameters) names.add(p.getSimpleName());
            missing.add(type.getSimpleName() + "(" + String.join(", ", names) + ")");
        }
    }
}
