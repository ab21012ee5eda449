package dev.locking.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockingConfigurationException;
import dev.locking.api.UnknownProviderException;
import dev.locking.core.LockingModule;
import dev.locking.spi.Arguments;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Every entry point fed nulls, empty, huge, malformed and hostile values from a seeded generator
 * (the seed is printed, and {@code -Dfuzz.seed=N} replays a run): each call either works or fails
 * with a clear {@link IllegalArgumentException} or {@link LockingConfigurationException} naming
 * what is wrong, and no call leaves a lock behind.
 */
class BadInputFuzzTest {
    private static final long SEED = Long.getLong("fuzz.seed", System.nanoTime());
    private static final int CASES = Integer.getInteger("fuzz.cases", 400);

    private static final List<String> HOSTILE = List.of(
            "",
            " ",
            "\t\n",
            "\0",
            "a\0b",
            "\uD800",
            "x\uDC00",
            "'; DROP TABLE locking; --",
            "redis.call('flushall')",
            "*",
            "?",
            "[",
            "{",
            "}",
            "{}",
            "%",
            "_",
            "\\",
            "\"",
            "'",
            "lock:",
            "é",
            "🔒",
            "\u202E",
            "\r\n");

    /** A string from the hostile list, a random one, a huge one, or null. */
    private static String text(Random r) {
        return switch (r.nextInt(6)) {
            case 0 -> null;
            case 1 -> HOSTILE.get(r.nextInt(HOSTILE.size()));
            case 2 -> "k" + r.nextInt(50);
            case 3 -> "x".repeat(1000 + r.nextInt(100)); // around the 1024-byte limit
            case 4 -> randomChars(r, 1 + r.nextInt(20));
            default -> HOSTILE.get(r.nextInt(HOSTILE.size())) + r.nextInt(10);
        };
    }

    private static String randomChars(Random r, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append((char) r.nextInt(0x10000));
        return sb.toString();
    }

    private static Duration duration(Random r) {
        return switch (r.nextInt(5)) {
            case 0 -> null;
            case 1 -> Duration.ofMillis(-1 - r.nextInt(1000));
            case 2 -> Duration.ZERO;
            case 3 -> Duration.ofNanos(r.nextInt(1_000_000));
            default -> Duration.ofMillis(1 + r.nextInt(200));
        };
    }

    private static boolean validText(String s) {
        try {
            Arguments.requireText(s, "x");
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** Builds options step by step as a user would; an invalid value must be rejected where it is set. */
    private static LockOptions options(Random r, String prefix) {
        LockOptions o = LockOptions.defaults();
        if (r.nextBoolean()) o = expectIllegalOrValue(o::owner, r.nextBoolean() ? prefix + "owner" : text(r), o);
        if (r.nextBoolean()) o = expectIllegalOrDuration(o::expire, duration(r), o, false);
        if (r.nextBoolean()) o = expectIllegalOrDuration(o::timeout, duration(r), o, true);
        if (r.nextInt(8) == 0) o = expectIllegalOrValue(o::provider, text(r), o);
        return o;
    }

    private static LockOptions expectIllegalOrValue(
            java.util.function.Function<String, LockOptions> set, String v, LockOptions unchanged) {
        try {
            LockOptions next = set.apply(v);
            assertTrue(validText(v), "accepted an invalid value " + show(v));
            return next;
        } catch (IllegalArgumentException e) {
            assertTrue(!validText(v), "rejected a valid value " + show(v) + ": " + e.getMessage());
            assertTrue(e.getMessage().matches("(ownerId|providerId) must .*"), e.getMessage());
            return unchanged;
        }
    }

    private static LockOptions expectIllegalOrDuration(
            java.util.function.Function<Duration, LockOptions> set,
            Duration d,
            LockOptions unchanged,
            boolean zeroAllowed) {
        boolean valid = d != null && !d.isNegative() && (zeroAllowed || d.toMillis() >= 1);
        try {
            LockOptions next = set.apply(d);
            assertTrue(valid, "accepted an invalid duration " + d);
            return next;
        } catch (IllegalArgumentException e) {
            assertTrue(!valid, "rejected a valid duration " + d + ": " + e.getMessage());
            assertTrue(e.getMessage().matches("(expire|timeout) must .*"), e.getMessage());
            return unchanged;
        }
    }

    private static String show(String s) {
        if (s == null) return "null";
        return "\"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s).replace("\0", "\\0") + "\" (" + s.length()
                + " chars)";
    }

    private static Map<String, Supplier<Config>> stores() {
        Map<String, Supplier<Config>> stores = new LinkedHashMap<>();
        stores.put("in-memory", () -> ConfigFactory.parseString("locking.providers = [{ resolve = in-memory }]"));
        stores.put("postgres", () -> {
            PostgresServer pg = PostgresServer.shared();
            Map<String, Object> options =
                    new HashMap<>(Map.of("url", pg.jdbcUrl(), "user", pg.user(), "schema", pg.newSchema("fuzz")));
            if (pg.password() != null) options.put("password", pg.password());
            return registration("locking-postgres", options)
                    .withValue("locking.migrate-on-start", ConfigValueFactory.fromAnyRef(true));
        });
        stores.put(
                "redis",
                () -> registration(
                        "locking-redis",
                        Map.of(
                                "url",
                                RedisServer.shared().url(),
                                "namespace",
                                "fuzz-" + ProcessHandle.current().pid() + ":")));
        return stores;
    }

    private static Config registration(String resolve, Map<String, Object> options) {
        return ConfigFactory.empty()
                .withValue(
                        "locking.providers",
                        ConfigValueFactory.fromIterable(List.of(Map.of("resolve", resolve, "options", options))));
    }

    @Test
    void theApiRejectsBadInputClearlyAndLeavesNoLockBehind() {
        System.out.println("BadInputFuzzTest seed " + SEED + " (replay with -Dfuzz.seed=" + SEED + ")");
        for (Map.Entry<String, Supplier<Config>> store : stores().entrySet()) {
            Random r = new Random(SEED);
            int rejected = 0, accepted = 0;
            try (LockingModule locking = LockingModule.create(store.getValue().get())) {
                String prefix = "fuzz" + ProcessHandle.current().pid() + "-";
                for (int i = 0; i < CASES; i++) {
                    List<String> keys = new ArrayList<>();
                    int n = r.nextInt(4);
                    for (int k = 0; k < n; k++) keys.add(r.nextInt(3) == 0 ? text(r) : prefix + "k" + r.nextInt(5));
                    LockOptions o = options(r, prefix);
                    boolean keysValid = !keys.isEmpty() && keys.stream().allMatch(BadInputFuzzTest::validText);
                    try {
                        switch (r.nextInt(4)) {
                            case 0 -> locking.acquire(keys, o.timeout(Duration.ZERO));
                            case 1 -> locking.release(keys, o);
                            case 2 -> locking.execute(keys, lock -> null, o.timeout(Duration.ZERO));
                            default -> locking.releaseAll(o);
                        }
                        accepted++;
                    } catch (IllegalArgumentException e) {
                        rejected++;
                        assertTrue(!keysValid, "valid keys " + keys.size() + " rejected: " + e.getMessage());
                        assertTrue(
                                e.getMessage().matches("(key|keys|keys\\[\\d+\\]|options|job) must .*"),
                                "message does not name the argument: " + e.getMessage());
                        // Each case starts with nothing held, so a rejected call must have left every key free.
                        for (String k : keys)
                            if (validText(k)) {
                                LockOptions checker = LockOptions.defaults().owner("checker");
                                locking.acquire(k, checker);
                                assertTrue(locking.release(k, checker));
                            }
                    } catch (LockAcquisitionException | UnknownProviderException expected) {
                        accepted++; // a valid call that found the key held or named no registration
                    } catch (LockLostException e) {
                        // Honest only for a lease shorter than the call itself (the generator draws
                        // leases from 1 ms): a lost lease on a longer one is a failure.
                        Duration lease = o.expire().orElse(null);
                        assertTrue(
                                lease != null && lease.toMillis() <= 200,
                                store.getKey() + " case " + i + ": lease lost with " + lease + ": " + e);
                        accepted++;
                    } catch (RuntimeException e) {
                        fail(store.getKey() + " case " + i + " (seed " + SEED + "): " + e, e);
                    }
                    // Whatever happened, nothing this run took may stay held once its owners let go.
                    o.owner()
                            .ifPresent(owner ->
                                    locking.releaseAll(LockOptions.defaults().owner(owner)));
                    locking.releaseAll(LockOptions.defaults());
                }
                for (int k = 0; k < 5; k++) {
                    LockOptions checker = LockOptions.defaults().owner("checker");
                    locking.acquire(prefix + "k" + k, checker); // free: nothing left behind
                    assertTrue(locking.release(prefix + "k" + k, checker));
                }
            }
            System.out.printf(
                    "%s: %d calls, %d rejected with IllegalArgumentException, %d accepted%n",
                    store.getKey(), CASES, rejected, accepted);
            assertTrue(rejected > CASES / 10 && accepted > CASES / 10, "the generator is not exercising both paths");
        }
    }

    @Test
    void malformedConfigurationIsAConfigurationErrorNeverACrash() {
        Random r = new Random(SEED);
        List<Object> values = new ArrayList<>(
                List.of("", "  ", "in-memory", "locking-postgres", "nope", "-1s", "banana", "0", "true", "1e99"));
        values.add(123);
        values.add(-5);
        values.add(true);
        values.add(List.of());
        values.add(List.of("a", 1));
        values.add(Map.of());
        values.add(Map.of("x", Map.of("y", 1)));
        values.add("x".repeat(5000));
        List<String> paths = List.of(
                "locking.providers",
                "locking.providers.0",
                "locking.execute.timeout",
                "locking.execute.expire",
                "locking.renewal-threads",
                "locking.migrate-on-start");
        List<String> entryKeys = List.of("resolve", "id", "is_default", "options", "is-default", "extra");
        int errors = 0, built = 0;
        for (int i = 0; i < CASES; i++) {
            Config config = ConfigFactory.empty();
            if (r.nextBoolean()) {
                List<Object> entries = new ArrayList<>();
                for (int e = r.nextInt(3); e >= 0; e--) {
                    if (r.nextInt(5) == 0) {
                        entries.add(values.get(r.nextInt(values.size())));
                        continue;
                    }
                    Map<String, Object> entry = new HashMap<>();
                    for (String key : entryKeys)
                        if (r.nextInt(3) == 0) entry.put(key, values.get(r.nextInt(values.size())));
                    if (r.nextBoolean()) entry.put("resolve", "in-memory");
                    entries.add(entry);
                }
                config = config.withValue("locking.providers", ConfigValueFactory.fromIterable(entries));
            } else {
                String path = paths.get(r.nextInt(paths.size()));
                if (!path.equals("locking.providers.0"))
                    config =
                            config.withValue(path, ConfigValueFactory.fromAnyRef(values.get(r.nextInt(values.size()))));
            }
            try (LockingModule module = LockingModule.create(config)) {
                built++;
                assertTrue(!module.providers().isEmpty());
            } catch (LockingConfigurationException e) {
                errors++;
                assertTrue(!e.problems().isEmpty());
                for (String problem : e.problems())
                    assertTrue(problem.startsWith("locking."), "a problem that names no key: " + problem);
            } catch (RuntimeException e) {
                fail(
                        "case " + i + " (seed " + SEED + ") crashed instead of a configuration error: "
                                + config.root().render() + "\n" + e,
                        e);
            }
        }
        System.out.printf(
                "configuration: %d cases, %d rejected with LockingConfigurationException, %d built%n",
                CASES, errors, built);
        assertEquals(CASES, errors + built);
        assertTrue(errors > CASES / 10 && built > CASES / 20, "the generator is not exercising both paths");
    }
}
