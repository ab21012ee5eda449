package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingFaultContract;
import dev.locking.testkit.faults.FaultyProxy;
import dev.locking.testkit.servers.PostgresReplicaPair;
import dev.locking.testkit.servers.PrivatePostgres;
import dev.locking.testkit.servers.PrivateStore;
import dev.locking.testkit.servers.ReplicatedStore;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The fault contract on PostgreSQL: private clusters of the test's own (a primary for the network
 * faults, a primary with a lagging replica, one on a fake clock), so the shared server is never
 * broken. Modules use the provider's own defaults apart from a one-second connect timeout: the
 * provider must bound a call on a half-open connection by itself.
 */
class PostgresFaultContractTest extends LockingFaultContract {
    private static PrivatePostgres store;

    @BeforeAll
    static void startStore() {
        store = PrivatePostgres.start();
    }

    @AfterAll
    static void stopStore() {
        if (store != null) store.close();
    }

    @Override
    protected InetSocketAddress storeAddress() {
        return new InetSocketAddress(store.host(), store.port());
    }

    @Override
    protected LockingModule newModule(String host, int port) {
        Map<String, Object> options = new HashMap<>();
        options.put("url", "jdbc:postgresql://" + host + ":" + port + "/postgres");
        options.put("user", "postgres");
        // Connecting through a black hole fails within a second; everything else is the default.
        options.put("pool", Map.of("connectionTimeout", 1000, "dataSource", Map.of("connectTimeout", "1")));
        LockingModule module = TestModules.module(options);
        try {
            module.migrate();
        } catch (RuntimeException e) {
            module.close();
            throw e;
        }
        return module;
    }

    @Test
    @DisplayName(
            "a half-open connection that sat idle (the pool checks it before use) fails a waiting acquire within its timeout")
    void blackHoledIdleConnectionFailsTheCallerWithinItsTimeout() throws Exception {
        FaultyProxy proxy = proxy();
        LockingModule locking = moduleThrough(proxy);
        LockingModule other = directModule();
        String k = key("k");
        Duration timeout = Duration.ofSeconds(1);
        // Idle past HikariCP's half-second window: the pool validates the connection when it lends it.
        Thread.sleep(1500);
        proxy.blackHole();
        long start = System.nanoTime();
        CompletableFuture<Object> call = CompletableFuture.supplyAsync(
                () -> locking.acquire(k, owner("A").timeout(timeout)));
        Throwable failure;
        try {
            Object result = call.get(20, TimeUnit.SECONDS);
            throw new AssertionError("the acquire succeeded on a half-open connection: " + result);
        } catch (ExecutionException e) {
            failure = e.getCause();
        }
        long tookMs = Duration.ofNanos(System.nanoTime() - start).toMillis();
        assertInstanceOf(LockingException.class, failure);
        assertTrue(
                tookMs <= timeout.plus(faultSlack()).toMillis(),
                "a " + timeout.toMillis() + " ms timeout failed after " + tookMs + " ms: " + failure);
        proxy.heal();
        other.acquire(k, owner("next").timeout(undoWithin()));
        assertTrue(other.release(k, owner("next")));
    }

    @Override
    protected ReplicatedStore newReplicatedStore() {
        return PostgresReplicaPair.start();
    }

    @Override
    protected PrivateStore newStoreOnFakeClock() {
        return PrivatePostgres.start(Duration.ZERO);
    }
}
