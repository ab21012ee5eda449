package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

/** What the provider leaves in Redis follows what is held: released locks leave only their fencing counters. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisGrowthTest {
    private static final String NAMESPACE = RedisServer.namespace(RedisGrowthTest.class);

    @Test
    void releasedExecutesLeaveNothingButOneFencingCounterPerKey() {
        try (LockingModule locking = RedisTestConfig.module(
                        RedisTestConfig.standalone(RedisServer.shared().url(), NAMESPACE));
                Jedis raw = RedisServer.shared().connect()) {
            RedisKeys keys = new RedisKeys(NAMESPACE);
            for (int i = 0; i < 500; i++)
                locking.execute(
                        "k" + (i % 10), lock -> null, LockOptions.defaults().expire(Duration.ofSeconds(60)));
            LockOptions owner = LockOptions.defaults().owner("A").expire(Duration.ofSeconds(60));
            for (int i = 0; i < 10; i++) {
                locking.acquire("k" + i, owner);
                locking.release("k" + i, owner);
            }

            Set<String> expected = new TreeSet<>();
            for (int i = 0; i < 10; i++) expected.add(keys.fence("k" + i));
            assertEquals(expected, keysIn(raw), "each execute had an owner of its own; none left an index behind");
        }
    }

    private static Set<String> keysIn(Jedis raw) {
        Set<String> found = new TreeSet<>();
        ScanParams params =
                new ScanParams().match(RedisKeys.glob(NAMESPACE) + "*").count(1000);
        String cursor = ScanParams.SCAN_POINTER_START;
        do {
            ScanResult<String> page = raw.scan(cursor, params);
            found.addAll(page.getResult());
            cursor = page.getCursor();
        } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
        return found;
    }
}
