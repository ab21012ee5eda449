package dev.locking.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * One application, {@link Checkout}, moved from lp_locking-postgres to lp_locking-redis by
 * changing only its configuration: the same code sells exactly the stock and keeps its carts.
 */
class SwapStoreByConfigurationTest {

    private static Config postgresConfig() {
        PostgresServer pg = PostgresServer.shared();
        String schema = pg.newSchema("swap");
        return ConfigFactory.parseString(
                """
                locking.providers = [{
                  resolve = "locking-postgres"
                  options { url = "%s", user = "%s", password = "%s", schema = "%s" }
                }]
                locking.migrate-on-start = true
                """
                        .formatted(pg.jdbcUrl(), pg.user(), pg.password(), schema));
    }

    private static Config redisConfig() {
        return ConfigFactory.parseString(
                """
                locking.providers = [{
                  resolve = "locking-redis"
                  options { url = "%s", namespace = "swap-%d:" }
                }]
                """
                        .formatted(
                                RedisServer.shared().url(),
                                ProcessHandle.current().pid()));
    }

    @Test
    void theSameApplicationRunsOnPostgresThenOnRedis() throws Exception {
        runTheApplication(postgresConfig(), "lp_locking-postgres");
        runTheApplication(redisConfig(), "lp_locking-redis");
    }

    /** Two application instances, each its own module on the configured store, as two JVMs would be. */
    private static void runTheApplication(Config config, String expectedProvider) throws Exception {
        String product = "prod_123-" + System.nanoTime();
        Map<String, Integer> stock = Checkout.sharedStock(product, 5);
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try (LockingModule one = LockingModule.create(config);
                LockingModule two = LockingModule.create(config)) {
            Checkout a = new Checkout(one, stock), b = new Checkout(two, stock);
            List<Future<Boolean>> buyers = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                Checkout instance = i % 2 == 0 ? a : b;
                buyers.add(pool.submit(() -> instance.buy(product)));
            }
            int sold = 0;
            for (Future<Boolean> f : buyers) if (f.get(60, TimeUnit.SECONDS)) sold++;
            assertEquals(5, sold, expectedProvider + ": exactly the stock is sold");
            assertEquals(0, stock.get(product));

            String cart = "cart_9-" + System.nanoTime();
            assertEquals(expectedProvider, a.reserveCart(cart, "checkout-42"));
            assertThrows(LockAcquisitionException.class, () -> b.reserveCart(cart, "checkout-43"));
            assertFalse(b.releaseCart(cart, "checkout-43"));
            assertTrue(b.releaseCart(cart, "checkout-42"), "the other instance sees the same lock");
        } finally {
            pool.shutdownNow();
        }
    }
}
