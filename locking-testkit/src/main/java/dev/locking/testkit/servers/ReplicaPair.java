package dev.locking.testkit.servers;

import dev.locking.testkit.faults.FaultyProxy;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * What {@link PostgresReplicaPair} and {@link RedisReplicaPair} share: a primary, a replica that
 * follows it through the replication proxy, and the clients' proxy in front of the primary; started
 * together or not at all, failed over and closed in the same way.
 */
abstract class ReplicaPair<S extends PrivateServer> implements ReplicatedStore {
    final S primary;
    final FaultyProxy replication;
    final S replica;
    final FaultyProxy clients;

    /**
     * Starts the pair and waits for the replica's first sync; on a failure stops whatever had started.
     *
     * @param name the proxies' name prefix, e.g. "pg" for "pg-replication" and "pg-clients"
     * @param startReplicaOf starts a replica of the primary at the given host and port
     * @param awaitFirstSync waits until the replica (second) has synced with the primary (first)
     */
    ReplicaPair(
            String name,
            Supplier<S> startPrimary,
            BiFunction<String, Integer, S> startReplicaOf,
            BiConsumer<S, S> awaitFirstSync) {
        S primary = null, replica = null;
        FaultyProxy replication = null, clients = null;
        try {
            primary = startPrimary.get();
            replication = FaultyProxy.start(name + "-replication", primary.host(), primary.port());
            replica = startReplicaOf.apply(replication.host(), replication.port());
            clients = FaultyProxy.start(name + "-clients", primary.host(), primary.port());
            awaitFirstSync.accept(primary, replica);
        } catch (RuntimeException e) {
            close(clients, replica, replication, primary);
            throw e;
        }
        this.primary = primary;
        this.replication = replication;
        this.replica = replica;
        this.clients = clients;
    }

    /** The proxy clients go through; break it for network faults on the way to the store. */
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
        close(clients, replica, replication, primary);
    }

    /** Closes in the reverse order of starting; null for what has not started. */
    private static void close(
            FaultyProxy clients, PrivateServer replica, FaultyProxy replication, PrivateServer primary) {
        if (clients != null) clients.close();
        if (replica != null) replica.close();
        if (replication != null) replication.close();
        if (primary != null) primary.close();
    }
}
