package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PrivateRedis;
import dev.locking.testkit.servers.RedisServer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientType;
import redis.clients.jedis.params.ClientKillParams;

/**
 * A Redis that may evict keys can delete a held lock, and a second owner then takes the key. Each
 * test runs its own redis-server, since it changes the server's memory settings.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisMemoryPolicyTest {
    private static final String NAMESPACE = RedisServer.namespace(RedisMemoryPolicyTest.class);

    private static Map<String, Object> options(PrivateRedis redis, String onEvicting) {
        Map<String, Object> options = new HashMap<>(RedisTestConfig.standalone(redis.url(), NAMESPACE));
        if (onEvicting != null) options.put("on-evicting-policy", onEvicting);
        return options;
    }

    @Test
    void anEvictingPolicyRefusesTheStartByDefault() {
        for (String policy : List.of("allkeys-lru", "volatile-lru", "allkeys-random", "volatile-ttl")) {
            try (PrivateRedis redis =
                    PrivateRedis.builder().maxMemory("64mb", policy).start()) {
                Throwable e = assertThrows(RuntimeException.class, () -> RedisTestConfig.module(options(redis, null)));
                String message = messages(e);
                assertTrue(message.contains("refuses new locks"), message);
                assertTrue(message.contains("maxmemory-policy " + policy), message);
                assertTrue(message.contains("127.0.0.1:" + redis.port()), message);
                assertTrue(message.contains("on-evicting-policy = warn"), message);
            }
        }
    }

    @Test
    void noevictionOrNoMemoryLimitIsAccepted() {
        try (PrivateRedis safe =
                        PrivateRedis.builder().maxMemory("64mb", "noeviction").start();
                PrivateRedis unlimited =
                        PrivateRedis.builder().maxMemory("0", "allkeys-lru").start()) {
            for (PrivateRedis redis : List.of(safe, unlimited)) {
                try (LockingModule locking = RedisTestConfig.module(options(redis, null))) {
                    locking.acquire("k", LockOptions.defaults().owner("A"));
                    assertTrue(locking.release("k", LockOptions.defaults().owner("A")));
                }
            }
        }
    }

    @Test
    void warnTakesLocksOnAnEvictingServerAndSaysSoOnce() {
        ListAppender<ILoggingEvent> logged = capture();
        try (PrivateRedis redis =
                        PrivateRedis.builder().maxMemory("64mb", "allkeys-lfu").start();
                LockingModule locking = RedisTestConfig.module(options(redis, "warn"))) {
            for (int i = 0; i < 3; i++) {
                locking.acquire("k", LockOptions.defaults().owner("A"));
                assertTrue(locking.release("k", LockOptions.defaults().owner("A")));
            }
            List<String> warnings = logged.list.stream()
                    .filter(event -> event.getLevel() == Level.WARN)
                    .map(ILoggingEvent::getFormattedMessage)
                    .filter(message -> message.contains("maxmemory-policy allkeys-lfu"))
                    .toList();
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.get(0).contains("Locks are taken anyway"), warnings.get(0));
        } finally {
            release(logged);
        }
    }

    @Test
    void anEvictingPolicyFoundAfterAReconnectRefusesNewLocksButNotReleases() throws InterruptedException {
        try (PrivateRedis redis =
                        PrivateRedis.builder().maxMemory("64mb", "noeviction").start();
                LockingModule locking = RedisTestConfig.module(options(redis, null));
                Jedis admin = redis.connect()) {
            LockOptions a = LockOptions.defaults().owner("A");
            locking.acquire("held", a);
            // The server is reconfigured and our connections are dropped, as a restart would.
            admin.configSet("maxmemory-policy", "allkeys-lru");
            admin.clientKill(new ClientKillParams().type(ClientType.NORMAL).skipMe(ClientKillParams.SkipMe.YES));

            assertTrue(locking.release("held", a), "a release reconnects and goes on");
            LockingException refused = assertThrows(LockingException.class, () -> locking.acquire("new", a));
            assertTrue(refused.getMessage().contains("maxmemory-policy allkeys-lru"), refused.getMessage());

            admin.configSet("maxmemory-policy", "noeviction");
            Thread.sleep(1_100); // a refused registration reads the policy again at most once a second
            locking.acquire("new", a);
            assertTrue(locking.release("new", a));
        }
    }

    @Test
    void onEvictingPolicyTakesOnlyRefuseOrWarn() {
        Map<String, Object> options = new HashMap<>(RedisTestConfig.standalone("redis://127.0.0.1:1", NAMESPACE));
        options.put("on-evicting-policy", "ignore");
        Throwable e = assertThrows(RuntimeException.class, () -> new TestContext(options).open());
        assertTrue(
                messages(e).contains("on-evicting-policy must be \"refuse\" or \"warn\", was \"ignore\""), messages(e));
    }

    private static String messages(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause())
            all.append(t.getMessage()).append(" | ");
        return all.toString();
    }

    private static ListAppender<ILoggingEvent> capture() {
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        ((Logger) LoggerFactory.getLogger(RedisStore.class)).addAppender(appender);
        return appender;
    }

    private static void release(ListAppender<ILoggingEvent> appender) {
        ((Logger) LoggerFactory.getLogger(RedisStore.class)).detachAppender(appender);
    }
}
