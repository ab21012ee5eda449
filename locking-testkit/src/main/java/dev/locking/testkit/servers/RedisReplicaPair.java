package dev.locking.testkit.servers;

import dev.locking.testkit.faults.FaultyProxy;
import java.time.Duration;

/**
 * A Redis master and its replica, private redis-server processes on free ports, with the
 * replication link and the clients' address each through a {@link FaultyProxy}: {@link
 * #lagReplica()} partitions the link, {@link #failover()} kills the master, promotes the replica
 * ({@code REPLICAOF NO ONE}) and moves the clients' address to it.
 */
public final class RedisReplicaPair implements ReplicatedStore {
    private final PrivateRedis master;
    private final FaultyProxy replication;
    private final PrivateRedis replica;
    private final FaultyProxy clients;

    private RedisReplicaPair(PrivateRedis master, FaultyProxy replication, PrivateRedis replica, FaultyProxy clients) {
        this.master = master;
        this.replication = replication;
        this.replica = replica;
        this.clients = clients;
    }

    /** A pair whose clocks agree. */
    public static RedisReplicaPair start() {
        return start(null);
    }

    /**
     * A pair whose replica's wall clock is {@code replicaClockOffset} from the master's (negative:
     * behind); null for no fake clock. A fake clock needs libfaketime (see {@link FakeClock}).
     */
    public static RedisReplicaPair start(Duration replicaClockOffset) {
        PrivateRedis master = null, replica = null;
        FaultyProxy replication = null, clients = null;
        try {
            master = PrivateRedis.builder().start();
            replication = FaultyProxy.start("redis-replication", master.host(), master.port());
            PrivateRedis.Builder rb = PrivateRedis.builder().replicaOf(replication.host(), replication.port());
            if (replicaClockOffset != null) rb.fakeClock(replicaClockOffset);
            replica = rb.start();
            clients = FaultyProxy.start("redis-clients", master.host(), master.port());
            RedisReplicaPair pair = new RedisReplicaPair(master, replication, replica, clients);
            PrivateRedis r = replica;
            Processes.waitUntil(r::replicaInSync, Duration.ofSeconds(30), "the Redis replica to sync");
            return pair;
        } catch (RuntimeException e) {
            if (clients != null) clients.close();
            if (replica != null) replica.close();
            if (replication != null) replication.close();
            if (master != null) master.close();
            throw e;
        }
    }

    public PrivateRedis master() {
        return master;
    }

    public PrivateRedis replica() {
        return replica;
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

    /** {@code redis://127.0.0.1:<stable port>}. */
    public String url() {
        return "redis://" + host() + ":" + port();
    }

    @Override
    public void awaitReplicaCaughtUp() {
        long target = master.replicationOffset();
        Processes.waitUntil(
                () -> replica.replicationOffset() >= target, Duration.ofSeconds(30), "the Redis replica to catch up");
    }

    @Override
    public void lagReplica() {
        replication.blackHole();
    }

    @Override
    public void failover() {
        master.kill();
        replication.goDown(); // whatever the partition held is lost with the master
        replica.promote();
        clients.retarget(replica.host(), replica.port());
    }

    @Override
    public void close() {
        clients.close();
        replica.close();
        replication.close();
        master.close();
    }

    @Override
    public String toString() {
        return "RedisReplicaPair{master " + master.port() + ", replica " + replica.port() + ", clients " + port() + "}";
    }
}
