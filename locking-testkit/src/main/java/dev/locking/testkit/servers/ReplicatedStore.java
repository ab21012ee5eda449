package dev.locking.testkit.servers;

/**
 * A primary with an asynchronous replica, both private processes, behind one stable address (a
 * {@link dev.locking.testkit.faults.FaultyProxy}) as clients of a failover set-up see it: a virtual
 * IP or DNS name that moves to the replica once it is promoted.
 */
public interface ReplicatedStore extends AutoCloseable {

    /** The stable address clients use. */
    String host();

    /** The stable address's port. */
    int port();

    /** Waits until the replica has everything the primary wrote so far. */
    void awaitReplicaCaughtUp();

    /**
     * Stops the replica from receiving anything more (its replication link is partitioned), so the
     * primary's later writes are exactly what a failover loses: the lag of an asynchronous replica.
     */
    void lagReplica();

    /**
     * The primary dies (SIGKILL), the replica is promoted with what it had received, and the stable
     * address moves to it; open client connections are reset.
     */
    void failover();

    /** Stops every process and deletes every directory. */
    @Override
    void close();
}
