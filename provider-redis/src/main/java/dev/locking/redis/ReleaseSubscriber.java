package dev.locking.redis;

import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisPubSub;

/**
 * The one subscriber connection of a registration: it listens on the namespace's release channel
 * and hands every released key to core, which wakes the local waiter first in line. One connection
 * serves every waiter of the registration, however many there are. When the connection drops it
 * reconnects (to another cluster node if need be); a message missed meanwhile is covered by the
 * waiters' poll interval.
 *
 * <p>A subscribed connection only reads, and Jedis reads it without a timeout, so a connection
 * that went half-open (a host that vanished, a firewall that dropped its state) would block it for
 * good and stop every push wake-up without an error. A watchdog therefore PINGs the subscription
 * every second and drops a connection that does not answer within {@code socket-timeout} (or
 * does not confirm its subscription that soon), so a dead subscriber is replaced within seconds.
 */
final class ReleaseSubscriber implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReleaseSubscriber.class);
    private static final long MAX_BACKOFF_MILLIS = 2_000;
    private static final long PING_EVERY_MILLIS = 1_000;

    private final RedisStore store;
    private final String channel;
    private final String registration;
    private final Consumer<String> onRelease;
    private final Object lock = new Object();
    private Thread thread;
    private volatile boolean running;
    private volatile JedisPubSub current;
    private volatile Jedis connection;
    private volatile boolean subscribed;
    private final java.util.concurrent.atomic.AtomicInteger subscriptions =
            new java.util.concurrent.atomic.AtomicInteger();
    /** How long the connection may stay silent after a PING (or before confirming the subscription). */
    private final long silenceNanos;

    private java.util.concurrent.ScheduledExecutorService watchdog;
    /** System.nanoTime() when the current connection was opened. */
    private volatile long connectedAt;
    /** System.nanoTime() of the PING not answered yet on the current connection; 0 when none. */
    private volatile long pingSentAt;

    ReleaseSubscriber(RedisStore store, String channel, String registration, Consumer<String> onRelease) {
        this.store = store;
        this.channel = channel;
        this.registration = registration;
        this.onRelease = onRelease;
        this.silenceNanos = Math.max(store.socketTimeout().toNanos(), PING_EVERY_MILLIS * 1_000_000);
    }

    /** Starts listening, once; a registration nobody waits on never opens the connection. */
    void start() {
        synchronized (lock) {
            if (thread != null) return;
            running = true;
            thread = new Thread(this::run, "locking-redis-subscriber-" + registration);
            thread.setDaemon(true);
            thread.start();
            watchdog = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "locking-redis-subscriber-watchdog-" + registration);
                t.setDaemon(true);
                return t;
            });
            watchdog.scheduleWithFixedDelay(
                    this::watch, PING_EVERY_MILLIS, PING_EVERY_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
        }
    }

    /** True while the subscription is confirmed by the server. */
    boolean subscribed() {
        return subscribed;
    }

    /** How many times the subscription was confirmed: 2 and more mean it reconnected. */
    int subscriptions() {
        return subscriptions.get();
    }

    private void run() {
        long backoff = 50;
        int attempt = 0;
        boolean warned = false;
        while (running) {
            List<HostAndPort> nodes = store.nodes();
            HostAndPort node = nodes.get(Math.floorMod(attempt, nodes.size()));
            JedisPubSub pubSub = new JedisPubSub() {
                @Override
                public void onMessage(String ignored, String key) {
                    onRelease.accept(key);
                }

                @Override
                public void onSubscribe(String ignored, int count) {
                    subscribed = true;
                    subscriptions.incrementAndGet();
                }

                @Override
                public void onPong(String ignored) {
                    pingSentAt = 0;
                }
            };
            try (Jedis jedis = new Jedis(node, store.clientConfig(store.clientName() + ":sub"))) {
                pingSentAt = 0;
                connectedAt = System.nanoTime();
                connection = jedis;
                current = pubSub;
                if (!running) break;
                if (warned) log.info("Redis provider {}: release notifications resumed via {}", registration, node);
                warned = false;
                jedis.subscribe(pubSub, channel); // returns when unsubscribed, throws when the connection fails
                backoff = 50;
            } catch (RuntimeException e) {
                if (!running) break;
                if (!warned)
                    log.warn(
                            "Redis provider {}: release notifications interrupted ({}); waiters fall back to polling"
                                    + " until the subscriber reconnects",
                            registration,
                            e.getMessage());
                warned = true;
                attempt++;
                sleep(backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_MILLIS);
            } finally {
                subscribed = false;
                connection = null;
                current = null;
            }
        }
    }

    /**
     * Runs every second on the watchdog thread: PINGs a confirmed subscription, and drops the
     * connection when a PING or the subscription's confirmation is not answered in time. Dropping
     * it makes the subscribe call fail, and the loop reconnects.
     */
    private void watch() {
        Jedis jedis = connection;
        JedisPubSub pubSub = current;
        if (!running || jedis == null || pubSub == null) return;
        long now = System.nanoTime();
        if (!subscribed) {
            if (now - connectedAt > silenceNanos) drop(jedis, "the subscription was not confirmed");
            return;
        }
        long sent = pingSentAt;
        if (sent != 0) {
            if (now - sent > silenceNanos) drop(jedis, "a PING was not answered");
            return;
        }
        pingSentAt = now;
        try {
            pubSub.ping();
        } catch (RuntimeException e) {
            drop(jedis, "a PING could not be sent (" + e.getMessage() + ")");
        }
    }

    private void drop(Jedis jedis, String why) {
        log.warn(
                "Redis provider {}: the release notification connection is silent ({} within {} ms); replacing it."
                        + " Waiters poll meanwhile",
                registration,
                why,
                java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(silenceNanos));
        try {
            jedis.disconnect();
        } catch (RuntimeException e) {
            // Already closed: the subscribe call fails all the same.
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        Thread toJoin;
        synchronized (lock) {
            running = false;
            toJoin = thread;
            if (watchdog != null) watchdog.shutdownNow();
        }
        if (toJoin == null) return;
        JedisPubSub pubSub = current;
        try {
            if (pubSub != null && pubSub.isSubscribed()) pubSub.unsubscribe();
        } catch (RuntimeException e) {
            // The connection is already gone; closing it below ends the loop all the same.
        }
        Jedis jedis = connection;
        if (jedis != null) {
            try {
                jedis.disconnect();
            } catch (RuntimeException e) {
                // Already closed.
            }
        }
        toJoin.interrupt();
        try {
            toJoin.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
