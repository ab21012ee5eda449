package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.faults.FaultyProxy;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The fault contract on PostgreSQL in table mode, on private clusters ({@link PrivatePostgresFaultContract}). */
class PostgresFaultContractTest extends PrivatePostgresFaultContract {

    @Override
    Map<String, Object> options() {
        return Map.of(); // table mode, the default
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
}
