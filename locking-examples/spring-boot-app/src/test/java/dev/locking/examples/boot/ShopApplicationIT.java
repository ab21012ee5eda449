package dev.locking.examples.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.Lease;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The shop booted against the real PostgreSQL and Redis, on Spring Boot's managed versions, with
 * its own Flyway migrations at the default location and the starter's configuration from its
 * application.yml (the providers repeated here only to give each test run its own schema and
 * Redis namespace).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ShopApplicationIT {
    private static final PostgresServer PG = PostgresServer.shared();
    private static final String SCHEMA = PG.newSchema("shop");

    @DynamicPropertySource
    static void servers(DynamicPropertyRegistry registry) {
        registry.add("spring.datasource.url", () -> PG.jdbcUrl() + "?currentSchema=" + SCHEMA);
        registry.add("spring.datasource.username", PG::user);
        registry.add("spring.flyway.schemas", () -> SCHEMA);
        registry.add("locking.providers[0].resolve", () -> "locking-postgres");
        registry.add("locking.providers[0].id", () -> "pg");
        registry.add("locking.providers[0].is-default", () -> "true");
        registry.add("locking.providers[0].options.schema", () -> SCHEMA);
        registry.add("locking.providers[1].resolve", () -> "locking-redis");
        registry.add("locking.providers[1].id", () -> "redis");
        registry.add(
                "locking.providers[1].options.url", () -> RedisServer.shared().url());
        registry.add("locking.providers[1].options.namespace", () -> RedisServer.namespace(ShopApplicationIT.class));
    }

    @LocalServerPort
    int port;

    @Autowired
    LockingModule locking;

    @Autowired
    JdbcTemplate jdbc;

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> call(String method, String path) throws Exception {
        return http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                        .method(method, HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void healthShowsLockingUpWithOneComponentPerRegistration() throws Exception {
        HttpResponse<String> health = call("GET", "/actuator/health");
        assertEquals(200, health.statusCode(), health.body());
        String locking = object(health.body(), "locking");
        String components = object(locking, "components");
        assertTrue(locking.replace(components, "").contains("\"status\":\"UP\""), locking);
        for (String registration : List.of("pg", "redis"))
            assertTrue(object(components, registration).contains("\"status\":\"UP\""), components);
    }

    /** The JSON object under the first {@code "name":} in {@code json}, braces included. */
    private static String object(String json, String name) {
        int start = json.indexOf("\"" + name + "\":{");
        assertTrue(start >= 0, name + " in " + json);
        start = json.indexOf('{', start);
        int depth = 0;
        for (int i = start; i < json.length(); i++) {
            if (json.charAt(i) == '{') depth++;
            else if (json.charAt(i) == '}' && --depth == 0) return json.substring(start, i + 1);
        }
        throw new AssertionError("unbalanced JSON: " + json);
    }

    @Test
    void theGuardedEndpointSellsExactlyTheStockAndIsMetered() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> buyers = new ArrayList<>();
            for (int i = 0; i < 8; i++)
                buyers.add(pool.submit(() -> {
                    int sold = 0;
                    while (true) {
                        int status = call("POST", "/stock/prod_123/buy").statusCode();
                        if (status == 410) return sold;
                        if (status == 200) sold++;
                        else assertEquals(503, status, "only sold, sold out, or busy");
                    }
                }));
            int sold = 0;
            for (Future<Integer> buyer : buyers) sold += buyer.get(180, TimeUnit.SECONDS);
            assertEquals(50, sold);
        } finally {
            pool.shutdownNow();
        }
        assertEquals(50, jdbc.queryForObject("SELECT count(*) FROM sales", Integer.class));
        assertEquals(0, jdbc.queryForObject("SELECT left_count FROM stock", Integer.class));

        HttpResponse<String> meter = call("GET", "/actuator/metrics/locking.acquire?tag=provider:lp_pg");
        assertEquals(200, meter.statusCode(), meter.body());
        assertTrue(meter.body().contains("\"COUNT\""), meter.body());
    }

    @Test
    void locksAreTakenOnBothProviders() {
        for (String provider : List.of("lp_pg", "lp_redis")) {
            LockOptions options = LockOptions.defaults().provider(provider).owner("it");
            Lease lease = locking.acquire("cart_9", options);
            assertEquals(provider, lease.provider());
            assertTrue(locking.release("cart_9", options));
        }
    }

    @Test
    void theApplicationsFlywayHistoryHoldsOnlyItsOwnMigrations() {
        List<String> scripts = jdbc.queryForList(
                "SELECT script FROM " + SCHEMA + ".flyway_schema_history WHERE success ORDER BY installed_rank",
                String.class);
        assertEquals(List.of("V1__shop_tables.sql", "V2__report_runs.sql"), scripts);
    }

    @Test
    void theScheduledReportRunsOncePerTick() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (jdbc.queryForObject("SELECT count(*) FROM report_runs", Integer.class) == 0
                && System.nanoTime() < deadline) Thread.sleep(100);
        assertTrue(jdbc.queryForObject("SELECT count(*) FROM report_runs", Integer.class) > 0);
    }
}
