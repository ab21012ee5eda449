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
public final class PostgresReplicaPair implements ReplicatedStore {
    private final PrivatePostgres primary;
    private final FaultyProxy replication;
    private final PrivatePostgres replica;
    private final FaultyProxy clients;

    private PostgresReplicaPair(
            PrivatePostgres primary, FaultyProxy replication, PrivatePostgres replica, FaultyProxy clients) {
        this.primary = primary;
        this.replication = replication;
        this.replica = replica;
        this.clients = clients;
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
        PrivatePostgres primary = null, replica = null;
        FaultyProxy replication = null, clients = null;
        try {
            primary = PrivatePostgres.start();
            replication = FaultyProxy.start("pg-replication", primary.host(), primary.port());
            replica = PrivatePostgres.replicaOf(replication.host(), replication.port(), replicaClockOffset);
            clients = FaultyProxy.start("pg-clients", primary.host(), primary.port());
            PostgresReplicaPair pair = new PostgresReplicaPair(primary, replication, replica, clients);
            pair.awaitReplicaCaughtUp();
            return pair;
        } catch (RuntimeException e) {
            if (clients != null) clients.close();
            if (replica != null) replica.close();
            if (replication != null) replication.close();
            if (primary != null) primary.close();
            throw e;
        }
    }

    public PrivatePostgres primary() {
        return primary;
    }

    public PrivatePostgres replica() {
        return replica;
    }

    /** The proxy clients go through; break it for network faults on the way to the database. */
    public FaultyProxy clientProxy() {
        return clients;
    }

    @Override
    public String host() {
        return clients.host();
    }

    @Override
    public int port() {
        return clients.port();
    }

    /** The JDBC URL of the stable address, database postgres, user postgres (trust). */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + host() + ":" + port() + "/postgres";
    }

    @Override
    public void awaitReplicaCaughtUp() {
        String lsn = primary.query("SELECT pg_current_wal_lsn()");
        Processes.waitUntil(
                () -> "t".equals(replica.query("SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn")),
                Duration.ofSeconds(30),
                "the PostgreSQL replica to replay up to " + lsn);
    }

    @Override
    public void lagReplica() {
        replication.blackHole();
    }

    @Override
    public void failover() {
        primary.kill();
        replication.goDown(); // what the partition held dies with the primary
        replica.promote();
        clients.retarget(replica.host(), replica.port());
    }

    @Override
    public void close() {
        clients.close();
        replica.close();
        replication.close();
        primary.close();
    }

    @Override
    public String toString() {
        return "PostgresReplicaPair{primary " + primary.port() + ", replica " + replica.port() + ", clients " + port()
                + "}";
    }
}
