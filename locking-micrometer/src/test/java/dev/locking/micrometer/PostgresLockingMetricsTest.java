package dev.locking.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** The same meters from a PostgreSQL registration: the listener hook sits in core, above every provider. */
class PostgresLockingMetricsTest {

    @Test
    void callsOnPostgresAreTimedUnderTheirRegistration() {
        PostgresServer pg = PostgresServer.shared();
        String schema = pg.newSchema("metrics");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (LockingModule module = LockingModule.create(ConfigFactory.parseString(
                """
                locking.providers = [{
                  resolve = "locking-postgres", id = pg
                  options { url = "%s", user = "%s", schema = "%s" }
                }]
                locking.migrate-on-start = true
                """
                        .formatted(pg.jdbcUrl(), pg.user(), schema)))) {
            new LockingMetrics(module).bindTo(registry);

            module.execute("prod_123", lock -> null);
            module.acquire("cart_9", LockOptions.defaults().owner("a"));
            assertThrows(
                    LockAcquisitionException.class,
                    () -> module.acquire("cart_9", LockOptions.defaults().owner("b")));
            module.release("cart_9", LockOptions.defaults().owner("a"));
        }

        assertEquals(
                2,
                registry.get("locking.acquire")
                        .tags("provider", "lp_pg", "outcome", "acquired")
                        .timer()
                        .count());
        assertEquals(
                1,
                registry.get("locking.acquire")
                        .tags("provider", "lp_pg", "outcome", "busy")
                        .timer()
                        .count());
        assertEquals(
                2, registry.get("locking.held").tag("provider", "lp_pg").timer().count());
    }
}
