package dev.locking.testkit.servers;

import dev.locking.testkit.faults.FaultyProxy;
import java.time.Duration;

/**
 * A PostgreSQL primary and its asynchronous streaming replica ({@code pg_basebackup -R}), private
 * clusters on free ports, with the replication link and the clients' address each through a
 * {@link FaultyProxy}. {@link #lagReplica()} partitions the link, {@link #failover()} kills the
 * primary, promotes the replica and moves the clients' address to it. The shared server on 5432 is
 * never touched.
 */
public final class PostgresReplicaPair extends ReplicaPair<PrivatePostgres> {

    private PostgresReplicaPair(Duration replicaClockOffset) {
        super(
                "pg",
                PrivatePostgres::start,
                (host, port) -> PrivatePostgres.replicaOf(host, port, replicaClockOffset),
                PostgresReplicaPair::awaitCaughtUp);
    }

    /** A pair whose clocks agree. */
    public static PostgresReplicaPair start() {
        return start(null);
    }

    /**
     * A pair whose replica's wall clock is {@code replicaClockOffset} from the primary's (negative:
     * behind); null for no fake clock (see {@link FakeClock}).
     */
    public static PostgresReplicaPair start(Duration replicaClockOffset) {
        return new PostgresReplicaPair(replicaClockOffset);
    }

    public PrivatePostgres primary() {
        return primary;
    }

    public PrivatePostgres replica() {
        return replica;
    }

    /** The JDBC URL of the stable address, database postgres, user postgres (trust). */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + host() + ":" + port() + "/postgres";
    }

    @Override
    public void awaitReplicaCaughtUp() {
        awaitCaughtUp(primary, replica);
    }

    private static void awaitCaughtUp(PrivatePostgres primary, PrivatePostgres replica) {
        String lsn = primary.query("SELECT pg_current_wal_lsn()");
        Processes.waitUntil(
                () -> "t".equals(replica.query("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn")),
                Duration.ofSeconds(30),
                "the PostgreSQL replica to replay up to " + lsn);
    }

    @Override
    public String toString() {
        return "PostgresReplicaPair{primary " + primary.port() + ", replica " + replica.port() + ", clients " + port()
                + "}";
    }
}
