package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockingConfigurationException;
import dev.locking.core.LockingModule;
import dev.locking.spi.LockingProviderFactory;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** Options are read at once, every problem reported with its full path, and no secret shown. */
class RedisOptionsTest {

    private static String problems(Map<String, Object> options) {
        return assertThrows(LockingConfigurationException.class, () -> new TestContext(options).open())
                .getMessage();
    }

    @Test
    void factoryIsAdvertisedUnderItsIdentifier() {
        assertTrue(ServiceLoader.load(LockingProviderFactory.class).stream()
                .anyMatch(p -> p.get().identifier().equals("locking-redis")));
    }

    @Test
    void urlOrClusterNodesIsRequiredButNotBoth() {
        assertTrue(problems(Map.of()).contains(TestContext.PATH + ".url or " + TestContext.PATH + ".cluster-nodes"));
        String both = problems(Map.of("url", "redis://127.0.0.1:6379", "cluster-nodes", List.of("127.0.0.1:7000")));
        assertTrue(both.contains("are both set"), both);
    }

    @Test
    void everyProblemIsListedAtOnceWithItsFullPath() {
        String message = problems(Map.of(
                "url", "http://127.0.0.1:6379",
                "namespace", "a{b}",
                "poll-interval", "2ms",
                "pool", Map.of("max-total", 0, "max-idel", 3),
                "socket-timeout", "soon",
                "namepsace", "typo"));
        for (String key : List.of(
                ".url must start with redis:// or rediss://",
                ".namespace must not contain",
                ".poll-interval must be at least 10 ms",
                ".pool.max-total must be at least 1",
                ".pool.max-idel is not a locking-redis option",
                ".socket-timeout must be a duration",
                ".namepsace is not a locking-redis option"))
            assertTrue(message.contains(TestContext.PATH + key), key + " missing in: " + message);
        assertTrue(message.contains("(7 problems)"), message);
    }

    @Test
    void waiterExpiryMustOutlastTwoPollIntervals() {
        String message = problems(Map.of("url", "redis://127.0.0.1", "poll-interval", "1s", "waiter-expiry", "1500ms"));
        assertTrue(message.contains(TestContext.PATH + ".waiter-expiry"), message);
    }

    @Test
    void clusterNodesMustBeHostAndPort() {
        String message = problems(Map.of("cluster-nodes", List.of("127.0.0.1:7000", "nohost", "h:99999")));
        assertTrue(message.contains(TestContext.PATH + ".cluster-nodes[1] must be host:port"), message);
        assertTrue(message.contains(TestContext.PATH + ".cluster-nodes[2] has no valid port"), message);
    }

    @Test
    void passwordNeverAppearsInErrorsOrToString() {
        String secret = "s3cr3t-Pa55";
        String badUrl = problems(Map.of("url", "redis://:" + secret + "@exa mple:6379"));
        assertFalse(badUrl.contains(secret), badUrl);
        String twice = problems(Map.of("url", "redis://:" + secret + "@127.0.0.1:6379", "password", secret));
        assertFalse(twice.contains(secret), twice);
        String wrongType = problems(Map.of("url", "redis://127.0.0.1", "password", Map.of("nested", secret)));
        assertFalse(wrongType.contains(secret), wrongType);

        try (RedisLockingProvider provider =
                new TestContext(Map.of("url", "redis://user:" + secret + "@127.0.0.1:6379/2")).open()) {
            assertFalse(provider.toString().contains(secret), provider.toString());
            assertTrue(provider.toString().contains("redis://127.0.0.1:6379/2"), provider.toString());
        }
        RedisSettings settings =
                RedisSettings.from(new TestContext(Map.of("url", "redis://127.0.0.1:6379", "password", secret)));
        assertFalse(settings.toString().contains(secret), settings.toString());
        assertEquals(secret, settings.password, "the password still reaches the client");
    }

    @Test
    void passwordNeverAppearsWhenTheServerCannotBeReached() {
        String secret = "s3cr3t-Pa55";
        try (RedisLockingProvider provider = new TestContext(
                        Map.of("url", "redis://app:" + secret + "@127.0.0.1:1", "connect-timeout", "200ms"))
                .open()) {
            var error = assertThrows(
                    dev.locking.api.LockingException.class,
                    () -> provider.tryAcquire(new dev.locking.spi.AcquireRequest(List.of("k"), "A", null, null)));
            assertTrue(error.getMessage().contains("lp_redis-lock"), error.getMessage());
            assertTrue(error.getMessage().contains("redis://127.0.0.1:1"), error.getMessage());
            java.io.StringWriter trace = new java.io.StringWriter();
            error.printStackTrace(new java.io.PrintWriter(trace));
            assertFalse(trace.toString().contains(secret), trace.toString());
        }
    }

    @Test
    void urlCarriesUserDatabaseAndTls() {
        RedisSettings settings =
                RedisSettings.from(new TestContext(Map.of("url", "rediss://app:pw@redis.example:6390/3")));
        assertEquals("app", settings.user);
        assertEquals("pw", settings.password);
        assertEquals(3, settings.database);
        assertTrue(settings.ssl);
        assertEquals("redis.example", settings.server.getHost());
        assertEquals(6390, settings.server.getPort());
    }

    @Test
    void moduleReportsBadOptionsOfTheRegistration() {
        var error = assertThrows(LockingConfigurationException.class, () -> LockingModule.builder()
                .config(RedisTestConfig.config(Map.of("url", "redis://127.0.0.1:6379", "namespace", "")))
                .build());
        assertTrue(error.getMessage().contains(".namespace must not be empty"), error.getMessage());
    }

    @Test
    void aClusterNodeWithCredentialsIsRefusedWithoutShowingThem() {
        for (String node :
                List.of("redis://:S3cretPW@127.0.0.1:6393", "redis://app:S3cretPW@127.0.0.1:6393", "S3cretPW@h:1")) {
            String message = problems(Map.of("cluster-nodes", List.of("127.0.0.1:7000", node)));
            assertTrue(message.contains(TestContext.PATH + ".cluster-nodes[1] holds credentials"), message);
            assertTrue(message.contains(".password"), message);
            assertFalse(message.contains("S3cretPW"), message);
        }
    }

    @Test
    void aClusterNodeAsARedisUrlWithoutCredentialsIsAccepted() {
        RedisSettings settings = RedisSettings.from(new TestContext(Map.of(
                "cluster-nodes", List.of("redis://127.0.0.1:7000", "rediss://127.0.0.1:7001/", "127.0.0.1:7002"))));
        assertEquals(
                List.of("127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"),
                settings.clusterNodes.stream().map(Object::toString).toList());
        assertTrue(settings.ssl, "rediss:// turns on TLS");
    }

    @Test
    void aUrlWhosePathOrQueryIsNotADatabaseIsRefusedWithoutShowingIt() {
        for (String url : List.of(
                "redis://127.0.0.1:6379/S3cretPW",
                "redis://127.0.0.1:6379/0?password=S3cretPW",
                "redis://h:1/#S3cretPW")) {
            String message = problems(Map.of("url", url));
            assertTrue(message.contains(TestContext.PATH + ".url has a"), message);
            assertFalse(message.contains("S3cretPW"), message);
        }
    }

    @Test
    void moreKeysThanMaxKeysPerCallAreRefusedBeforeAnyLockIsTaken() {
        Map<String, Object> options = new java.util.HashMap<>(RedisTestConfig.standalone(
                dev.locking.testkit.servers.RedisServer.shared().url(),
                dev.locking.testkit.servers.RedisServer.namespace(RedisOptionsTest.class)));
        options.put("max-keys-per-call", 3);
        try (LockingModule locking = RedisTestConfig.module(options)) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class,
                    () -> locking.acquire(List.of("a", "b", "c", "d"), dev.locking.api.LockOptions.defaults()));
            assertTrue(e.getMessage().contains("4 keys in one call"), e.getMessage());
            assertTrue(e.getMessage().contains("max-keys-per-call"), e.getMessage());
            // Nothing was taken: each key is free for another owner.
            locking.acquire(
                    List.of("a", "b", "c"),
                    dev.locking.api.LockOptions.defaults().owner("B"));
            assertTrue(locking.release(
                    List.of("a", "b", "c"),
                    dev.locking.api.LockOptions.defaults().owner("B")));
        }
    }
}
