package dev.locking.bench;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * What one uncontended acquire + release costs the PostgreSQL server: WAL bytes and records, WAL
 * fsyncs, transactions that wrote (took a transaction id) and transactions of any kind. Measured
 * apart from JMH's timed loop: one thread takes and frees {@code pairs} distinct keys, {@code
 * repeats} times, after a pass over the same keys that brings tables and caches to steady state.
 *
 * <p>Other databases on the server write in the same windows, so WAL is counted by what it
 * touches: {@code pg_walinspect} lists each window's records, and those of the bench's database
 * are the records of its relations and every record of a transaction that wrote one (its commit).
 * WAL bytes are those records' lengths, 8-byte aligned as written; write transactions are their
 * transaction ids. WAL fsyncs ({@code pg_stat_wal.wal_sync}) cannot be told apart by database: they
 * are the whole server's, and the figure is the smallest of the windows. Each backend adds to
 * {@code pg_stat_wal} at most once a second, an idle one within {@value #FLUSH_MILLIS} ms ({@code
 * PGSTAT_IDLE_INTERVAL} of PostgreSQL 15 is 10 s), so every reading follows that long a pause.
 *
 * <p>Transactions are counted in {@code pg_stat_database} for the bench's database, read on a
 * connection to the {@code postgres} database so that the readings do not count. A backend that
 * only reads (raw advisory locks) reports its transactions only when it ends, so they are counted
 * over the target's whole life, from before it opens to after its connections (and, behind
 * PgBouncer, the pooler's server connections) have ended, divided by every pair it made: its start
 * and close are in the figure, a few transactions over thousands of pairs.
 */
final class ServerCost {
    private ServerCost() {}

    static final int PAIRS = 2000;
    static final int REPEATS = 3;

    /** Passes over the keys before measuring: 20,000 pairs, about what the JIT needs to settle. */
    static final int WARM_PASSES = 10;

    /** A backend reports its statistics this long after its last transaction, at the latest. */
    static final long FLUSH_MILLIS = 11_000;

    /**
     * Per pair: WAL bytes, WAL records, WAL fsyncs, transaction ids, transactions, and CPU time in
     * microseconds of the bench's process (the caller's side: the library and its driver) and of
     * the server's backends serving the bench's database (NaN where they cannot be read: a server
     * on another machine).
     */
    record Result(
            String target,
            int pairs,
            int repeats,
            double walBytes,
            double walRecords,
            double walSyncs,
            double writeTransactions,
            double transactions,
            double clientCpuMicros,
            double serverCpuMicros) {}

    private record Reading(String lsn, long walSyncs, long transactions) {}

    private static final String READ =
            "SELECT pg_current_wal_flush_lsn()::text, w.wal_sync, d.xact_commit + d.xact_rollback"
                    + " FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = ?";

    /** Records, bytes and transaction ids of the bench's database between two WAL positions. */
    private static final String INSPECT = "WITH r AS (SELECT xid, record_length, block_ref"
            + " FROM pg_get_wal_records_info(?::pg_lsn, ?::pg_lsn)),"
            + " ours AS (SELECT DISTINCT xid FROM r WHERE block_ref ~ ? AND xid <> '0'::xid)"
            + " SELECT count(*), coalesce(sum((record_length + 7) / 8 * 8), 0), (SELECT count(*) FROM ours)"
            + " FROM r WHERE block_ref ~ ? OR xid IN (SELECT xid FROM ours)";

    static Result run(String target, Supplier<Locker> open, Servers servers, int pairs, int repeats) throws Exception {
        List<String> keys = new ArrayList<>(pairs);
        for (int i = 0; i < pairs; i++) keys.add("cost-" + i);
        String database = prepare(servers);
        try (Connection c = DriverManager.getConnection(
                servers.pgUrl().replaceFirst("^(jdbc:postgresql://[^/]+/)[^?]*", "$1postgres"),
                servers.jdbcProperties("dev.locking bench cost"))) {
            endSessions(c, database);
            Reading first = read(c, database);
            long[] least = {
                Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE
            };
            int inspections = 1; // the look-up of the database's oid
            try (Locker locker = open.get();
                    Connection inspector = DriverManager.getConnection(
                            servers.pgUrl(), servers.jdbcProperties("dev.locking bench cost"));
                    PreparedStatement inspect = inspector.prepareStatement(INSPECT)) {
                String ours = "rel [0-9]+/" + oid(inspector) + "/";
                inspect.setString(3, ours);
                inspect.setString(4, ours);
                Locker.Caller caller = locker.caller(0);
                // Rows exist (or not) and caches hold them, as in the timed runs; and the JIT has
                // compiled the caller's path, so that its CPU time is a steady state's.
                for (int w = 0; w < WARM_PASSES; w++) runPairs(caller, keys);
                Thread.sleep(FLUSH_MILLIS);
                Reading before = read(c, database);
                for (int r = 0; r < repeats; r++) {
                    long client = processCpuNanos(), server = backendCpuNanos(c, database);
                    runPairs(caller, keys);
                    least[4] = Math.min(least[4], processCpuNanos() - client);
                    long served = backendCpuNanos(c, database);
                    least[5] = server < 0 || served < 0 ? -1 : Math.min(least[5], served - server);
                    Thread.sleep(FLUSH_MILLIS);
                    Reading after = read(c, database);
                    inspect.setString(1, before.lsn());
                    inspect.setString(2, after.lsn());
                    if (after.lsn().equals(before.lsn())) { // no WAL at all
                        least[0] = 0;
                        least[1] = 0;
                        least[3] = 0;
                    } else
                        try (ResultSet rs = inspect.executeQuery()) {
                            inspections++;
                            rs.next();
                            least[0] = Math.min(least[0], rs.getLong(2));
                            least[1] = Math.min(least[1], rs.getLong(1));
                            least[3] = Math.min(least[3], rs.getLong(3));
                        }
                    least[2] = Math.min(least[2], after.walSyncs() - before.walSyncs());
                    before = after;
                }
            }
            endSessions(c, database);
            Reading last = read(c, database);
            double n = pairs;
            // The inspector's transactions are not the target's.
            long transactions = last.transactions() - first.transactions() - inspections;
            return new Result(
                    target,
                    pairs,
                    repeats,
                    least[0] / n,
                    least[1] / n,
                    least[2] / n,
                    least[3] / n,
                    transactions / (n * (repeats + WARM_PASSES)),
                    least[4] / 1000.0 / n,
                    least[5] < 0 ? Double.NaN : least[5] / 1000.0 / n);
        }
    }

    private static void runPairs(Locker.Caller caller, List<String> keys) {
        for (String key : keys)
            if (caller.tryLock(key)) caller.unlock(key);
            else throw new IllegalStateException(key + " is held: the measurement needs free keys");
    }

    /** Installs {@code pg_walinspect} in the bench's database; returns the database's name. */
    private static String prepare(Servers servers) throws SQLException {
        try (Connection c =
                        DriverManager.getConnection(servers.pgUrl(), servers.jdbcProperties("dev.locking bench cost"));
                Statement st = c.createStatement()) {
            st.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect");
            try (ResultSet rs = st.executeQuery("SELECT current_database()")) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private static long oid(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT oid FROM pg_database WHERE datname = current_database()")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static final String OURS = " WHERE datname = ? AND application_name LIKE 'dev.locking%'";

    private static void endSessions(Connection c, String database) throws Exception {
        try (PreparedStatement end =
                        c.prepareStatement("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity" + OURS);
                PreparedStatement left = c.prepareStatement("SELECT count(*) FROM pg_stat_activity" + OURS)) {
            end.setString(1, database);
            left.setString(1, database);
            end.executeQuery().close();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (true) {
                try (ResultSet rs = left.executeQuery()) {
                    rs.next();
                    if (rs.getInt(1) == 0) break;
                }
                if (System.nanoTime() > deadline) throw new IllegalStateException("sessions on " + database + " stay");
                Thread.sleep(50);
            }
        }
    }

    /** CPU time of this process: the caller's side, JIT and GC included. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean)
                        java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * CPU time of the server backends connected to {@code database} (Linux {@code
     * /proc/<pid>/schedstat}, nanoseconds on a CPU), or -1 when the server is not on this machine.
     */
    private static long backendCpuNanos(Connection c, String database) throws SQLException {
        long sum = 0;
        try (PreparedStatement ps = c.prepareStatement("SELECT pid FROM pg_stat_activity WHERE datname = ?")) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    java.nio.file.Path stat = java.nio.file.Path.of("/proc", rs.getString(1), "schedstat");
                    try {
                        sum += Long.parseLong(
                                java.nio.file.Files.readString(stat).trim().split(" ")[0]);
                    } catch (java.io.IOException | RuntimeException e) {
                        return -1;
                    }
                }
            }
        }
        return sum;
    }

    private static Reading read(Connection c, String database) throws SQLException {
        // In autocommit each reading is one transaction, and a transaction's end clears its
        // statistics snapshot (pg_stat_clear_snapshot), so every reading is fresh.
        try (PreparedStatement ps = c.prepareStatement(READ)) {
            ps.setString(1, database);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new Reading(rs.getString(1), rs.getLong(2), rs.getLong(3));
            }
        }
    }
}
