package dev.locking.testkit.servers;

import dev.locking.testkit.faults.FaultyProxy;
import java.time.Duration;

/**
 * A Redis master and its replica, private redis-server processes on free ports, with the
 * replication link and the clients' address each through a {@link FaultyProxy}: {@link
 * #lagReplica()} partitions the link, {@link #failover()} kills the master, promotes the replica
 * ({@code REPLICAOF NO ONE}) and moves the clients' address to it.
 */
public final class RedisReplicaPair extends ReplicaPair<PrivateRedis> {

    private RedisReplicaPair(Duration replicaClockOffset) {
        super(
                "redis",
                () -> PrivateRedis.builder().start(),
                (host, port) -> replicaBuilder(host, port, replicaClockOffset).start(),
                (master, replica) -> Processes.waitUntil(
                        replica::replicaInSync, Duration.ofSeconds(30), "the Redis replica to sync"));
    }

    private static PrivateRedis.Builder replicaBuilder(String host, int port, Duration clockOffset) {
        PrivateRedis.Builder builder = PrivateRedis.builder().replicaOf(host, port);
        return clockOffset == null ? builder : builder.fakeClock(clockOffset);
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
        return new RedisReplicaPair(replicaClockOffset);
    }

    public PrivateRedis master() {
        return primary;
    }

    public PrivateRedis replica() {
        return replica;
    }

    /** {@code redis://127.0.0.1:<stable port>}. */
    public String url() {
        return "redis://" + host() + ":" + port();
    }

    @Override
    public void awaitReplicaCaughtUp() {
        long target = primary.replicationOffset();
        Processes.waitUntil(
                () -> replica.replicationOffset() >= target, Duration.ofSeconds(30), "the Redis replica to catch up");
    }

    @Override
    public String toString() {
        return "RedisReplicaPair{master " + primary.port() + ", replica " + replica.port() + ", clients " + port()
                + "}";
    }
}
