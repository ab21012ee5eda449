package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.Lease;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresReplicaPair;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A failover to an asynchronous replica that had not received the primary's last writes. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class PostgresFailoverTest {

    @Test
    @DisplayName("fencing tokens keep growing across a failover to a replica that lags the primary")
    void fencingTokensKeepGrowingAcrossAFailoverToALaggingReplica() throws Exception {
        try (PostgresReplicaPair pair = PostgresReplicaPair.start()) {
            Map<String, Object> options = new HashMap<>();
            options.put("url", pair.jdbcUrl());
            options.put("user", "postgres");
            options.put("notifications", "poll");
            try (LockingModule module = TestModules.module(options)) {
                module.migrate();
                pair.awaitReplicaCaughtUp();
                pair.lagReplica();
                // Written on the primary only: enough acquisitions that the replica's sequence is
                // far behind (a sequence logs 32 values ahead of the last one it handed out).
                LockOptions a = LockOptions.defaults().owner("A").expire(Duration.ofMinutes(5));
                for (int i = 0; i < 100; i++) {
                    module.acquire("warm-" + i, a);
                    module.release("warm-" + i, a);
                }
                Lease held = module.acquire("k", a);
                long before = held.fencingToken("k");

                pair.failover();

                // The replica never saw A's lock: B gets the key at once. Its token must still be
                // larger, so that storage guarded by the token refuses A's late writes.
                LockOptions b = LockOptions.defaults().owner("B").timeout(Duration.ofSeconds(30));
                long after = module.acquire("k", b).fencingToken("k");
                assertTrue(after > before, "token after the failover " + after + " > before " + before);
                assertTrue(module.release("k", b));
            }
        }
    }
}
