package dev.locking.bench;

import dev.locking.testkit.servers.RedisServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.Jedis;

/** What the figures were measured on, for the report. */
final class Machine {
    private Machine() {}

    static Map<String, String> describe(Servers servers, String loadAtStart) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("CPU", cpu() + ", " + Runtime.getRuntime().availableProcessors() + " cores (nproc)");
        m.put("Load average (1, 5, 15 min)", "at the start " + loadAtStart + ", at the end " + load());
        m.put("Memory", memory());
        m.put("OS", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put(
                "Java",
                System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + " ("
                        + System.getProperty("java.vendor") + ")");
        m.put("PostgreSQL", postgres(servers));
        if (servers.pgbouncerUrl() != null)
            m.put("PgBouncer", pgbouncer() + ", pool_mode = transaction, on a loopback port (testkit PgBouncerServer)");
        m.put("Redis", redis());
        return m;
    }

    /** The kernel's load averages, 1, 5 and 15 min: how busy the cores were with anything else too. */
    static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split(" ");
            return f[0] + ", " + f[1] + ", " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown"; // not Linux
        }
    }

    private static String cpu() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith("model name"))
                    return line.substring(line.indexOf(':') + 1).strip();
        } catch (IOException e) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    private static String memory() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo")))
                if (line.startsWith("MemTotal")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return String.format("%.1f GiB", kb / 1024.0 / 1024.0);
                }
        } catch (IOException | NumberFormatException e) {
            // not Linux
        }
        return "unknown";
    }

    private static String postgres(Servers servers) {
        try (Connection c = DriverManager.getConnection(servers.pgUrl(), servers.jdbcProperties("dev-bench-info"));
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT current_setting('server_version'),"
                        + " current_setting('fsync'), current_setting('synchronous_commit'),"
                        + " current_setting('wal_level'), current_setting('shared_buffers')")) {
            rs.next();
            return rs.getString(1) + " on " + servers.pgUrl().replace("jdbc:postgresql://", "") + " (fsync = "
                    + rs.getString(2) + ", synchronous_commit = " + rs.getString(3) + ", wal_level = "
                    + rs.getString(4) + ", shared_buffers = " + rs.getString(5) + ")";
        } catch (SQLException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private static String redis() {
        try (Jedis jedis = RedisServer.shared().connect()) {
            String version = jedis.info("server")
                    .lines()
                    .filter(l -> l.startsWith("redis_version:"))
                    .map(l -> l.substring("redis_version:".length()).strip())
                    .findFirst()
                    .orElse("unknown");
            List<String> aof = jedis.configGet("appendonly").values().stream().toList();
            return version + " on " + RedisServer.shared().host() + ":"
                    + RedisServer.shared().port() + " (appendonly = " + (aof.isEmpty() ? "?" : aof.get(0)) + ")";
        } catch (RuntimeException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private static String pgbouncer() {
        for (String binary : List.of("/usr/sbin/pgbouncer", "pgbouncer")) {
            try {
                Process p = new ProcessBuilder(binary, "--version")
                        .redirectErrorStream(true)
                        .start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor();
                return out.lines().findFirst().orElse("PgBouncer");
            } catch (IOException e) {
                // try the next
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return "PgBouncer";
    }
}
