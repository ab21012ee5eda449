package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** acquire, release, release-all and locks against real PostgreSQL and Redis, each command in-process. */
@DisplayName("acquire / release / release-all / locks on PostgreSQL and Redis")
class LockCommandsTest {

    @TempDir
    static Path dir;

    static String config;
    static Cli cli;

    @BeforeAll
    static void migrate() {
        String schema = PostgresServer.shared().newSchema("cli_locks");
        String namespace = RedisServer.namespace(LockCommandsTest.class);
        config = Stores.config(
                        dir, "locks.conf", Stores.postgres("pg", schema, true), Stores.redis("redis", namespace, false))
                .toString();
        cli = new Cli(dir);
        cli.run("migrate", "-c", config).expect(0);
    }

    private static Cli.Result locking(String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "-c";
        all[args.length + 1] = config;
        return cli.run(all);
    }

    private static String key(String name) {
        return name + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void acquireHoldsTheKeyUntilItsOwnerReleasesIt(String store) {
        String key = key("prod");
        Cli.Result acquired = locking("acquire", key, "--owner", "ops-1", "--expire", "30s", "--provider", store)
                .expect(0);
        assertTrue(acquired.out().contains("Acquired 1 key in lp_" + store), acquired::toString);
        assertTrue(acquired.out().contains(key) && acquired.out().contains("ops-1"), acquired::toString);
        assertTrue(acquired.err().isEmpty(), acquired::toString);

        Cli.Result taken =
                locking("acquire", key, "--owner", "ops-2", "--provider", store).expect(1);
        assertTrue(taken.err().contains("Failed to acquire lock for key \"" + key + "\""), taken::toString);
        assertTrue(taken.out().isEmpty(), taken::toString);

        Cli.Result wrongOwner =
                locking("release", key, "--owner", "ops-2", "--provider", store).expect(1);
        assertTrue(wrongOwner.err().contains("not released"), wrongOwner::toString);

        Cli.Result released =
                locking("release", key, "--owner", "ops-1", "--provider", store).expect(0);
        assertTrue(released.out().contains("Released " + key + " in lp_" + store), released::toString);
        locking("release", key, "--owner", "ops-1", "--provider", store).expect(1);
        locking("acquire", key, "--owner", "ops-2", "--provider", store).expect(0);
        locking("release", key, "--owner", "ops-2", "--provider", store).expect(0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void acquireJsonNamesProviderOwnerExpiryAndFencingTokens(String store) {
        String a = key("a");
        String b = key("b");
        Instant before = Instant.now();
        JsonNode json = locking(
                        "acquire", b, a, a, "--owner", "ops-json", "--expire", "45s", "--provider", store, "--json")
                .expect(0)
                .json();
        assertTrue(json.get("acquired").asBoolean());
        assertEquals("lp_" + store, json.get("provider").asText());
        assertEquals("ops-json", json.get("owner").asText());
        Instant expires = Instant.parse(json.get("expiresAt").asText());
        // Store clock against ours: only generous bounds.
        assertTrue(
                expires.isAfter(before.plusSeconds(30)) && expires.isBefore(before.plusSeconds(120)), json::toString);
        JsonNode locks = json.get("locks");
        assertEquals(2, locks.size(), json::toString);
        assertEquals(
                List.of(a, b).stream().sorted().toList(),
                List.of(
                        locks.get(0).get("key").asText(),
                        locks.get(1).get("key").asText()));
        assertTrue(locks.get(0).get("fencingToken").asLong() > 0, json::toString);

        JsonNode refused = locking("acquire", a, "--owner", "someone-else", "--provider", store, "--json")
                .expect(1)
                .json();
        assertFalse(refused.get("acquired").asBoolean());
        assertEquals(a, refused.get("key").asText());
        assertEquals(
                "Failed to acquire lock for key \"" + a + "\"",
                refused.get("message").asText());

        JsonNode released = locking("release", a, b, "--owner", "ops-json", "--provider", store, "--json")
                .expect(0)
                .json();
        assertTrue(released.get("released").asBoolean());
        assertEquals("lp_" + store, released.get("provider").asText());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void acquireWithTimeoutWaitsThenFailsWithTheMedusaMessage(String store) {
        String key = key("held");
        locking("acquire", key, "--owner", "holder", "--provider", store).expect(0);
        Cli.Result waited = locking("acquire", key, "--owner", "waiter", "--timeout", "300ms", "--provider", store)
                .expect(1);
        assertTrue(waited.err().contains("Timed-out acquiring lock."), waited::toString);
        locking("release", key, "--owner", "holder", "--provider", store).expect(0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void anonymousLocksAreNotReentrantAndOnlyOwnerlessReleaseFreesThem(String store) {
        String key = key("anon");
        JsonNode json =
                locking("acquire", key, "--provider", store, "--json").expect(0).json();
        assertTrue(json.get("owner").isNull(), json::toString);
        assertTrue(json.get("expiresAt").isNull(), json::toString);
        locking("acquire", key, "--provider", store).expect(1);
        locking("release", key, "--owner", "named", "--provider", store).expect(1);
        locking("release", key, "--provider", store).expect(0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void aFailedMultiKeyAcquireTakesNone(String store) {
        String k1 = key("k1");
        String k2 = key("k2");
        String k3 = key("k3");
        locking("acquire", k1, k2, "--owner", "A", "--provider", store).expect(0);
        locking("acquire", k2, k3, "--owner", "B", "--provider", store).expect(1);
        // k3 stayed free: B's failed call took none of its keys.
        locking("acquire", k3, "--owner", "C", "--provider", store).expect(0);
        locking("release", k1, k2, "--owner", "A", "--provider", store).expect(0);
        locking("release", k3, "--owner", "C", "--provider", store).expect(0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void releaseAllReleasesOnlyThatOwnersLocksAndCountsThem(String store) {
        String owner = "batch-" + UUID.randomUUID();
        String other = key("other");
        locking("acquire", key("x"), key("y"), key("z"), "--owner", owner, "--provider", store)
                .expect(0);
        locking("acquire", other, "--owner", "bystander", "--provider", store).expect(0);

        JsonNode json = locking("release-all", "--owner", owner, "--provider", store, "--json")
                .expect(0)
                .json();
        assertEquals(3, json.get("released").asInt(), json::toString);
        assertEquals(owner, json.get("owner").asText());
        Cli.Result again =
                locking("release-all", "--owner", owner, "--provider", store).expect(0);
        assertTrue(again.out().contains("Released 0 locks of owner \"" + owner + "\" in lp_" + store), again::toString);
        // The bystander's lock is untouched.
        locking("acquire", other, "--owner", "intruder", "--provider", store).expect(1);
        locking("release", other, "--owner", "bystander", "--provider", store).expect(0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void locksShowsKeyOwnerExpiryAndTokenOrSaysTheProviderCannotList(String store) throws Exception {
        String owner = "lister-" + UUID.randomUUID();
        String a = key("list_a");
        String b = key("list_b");
        locking("acquire", a, "--owner", owner, "--expire", "60s", "--provider", store)
                .expect(0);
        locking("acquire", b, "--owner", owner, "--provider", store).expect(0);

        boolean canList;
        try (LockingModule module = LockingModule.create(
                com.typesafe.config.ConfigFactory.parseFile(Path.of(config).toFile()))) {
            try {
                module.locks(LockOptions.defaults().provider(store), 1);
                canList = true;
            } catch (UnsupportedOperationException e) {
                canList = false;
            }
        }
        if (!canList) {
            Cli.Result refused = locking("locks", "--provider", store).expect(2);
            assertTrue(
                    refused.err()
                            .contains("lp_" + store + " (locking-" + (store.equals("pg") ? "postgres" : "redis")
                                    + ") cannot list its locks"),
                    refused::toString);
            assertEquals(1, refused.errLines().size(), refused::toString);
        } else {
            Cli.Result table =
                    locking("locks", "--owner", owner, "--provider", store).expect(0);
            assertTrue(table.out().contains("2 locks of owner \"" + owner + "\" held in lp_" + store), table::toString);
            assertTrue(table.out().contains("KEY") && table.out().contains("FENCING TOKEN"), table::toString);
            assertTrue(table.out().contains(a) && table.out().contains(b), table::toString);
            assertTrue(table.out().contains("never"), table::toString);

            JsonNode json = locking("locks", "--owner", owner, "--provider", store, "--json")
                    .expect(0)
                    .json();
            JsonNode locks = json.get("locks");
            assertEquals(2, locks.size(), json::toString);
            assertEquals(a, locks.get(0).get("key").asText());
            assertEquals(owner, locks.get(0).get("owner").asText());
            assertFalse(locks.get(0).get("expiresAt").isNull(), json::toString);
            assertTrue(locks.get(1).get("expiresAt").isNull(), json::toString);
            assertTrue(locks.get(0).get("fencingToken").asLong() > 0, json::toString);
            assertFalse(json.get("truncated").asBoolean());

            JsonNode cut = locking("locks", "--owner", owner, "--provider", store, "--limit", "1", "--json")
                    .expect(0)
                    .json();
            assertEquals(1, cut.get("locks").size());
            assertTrue(cut.get("truncated").asBoolean());
        }
        locking("release-all", "--owner", owner, "--provider", store).expect(0);
        if (canList) {
            Cli.Result none =
                    locking("locks", "--owner", owner, "--provider", store).expect(0);
            assertTrue(none.out().contains("No locks of owner \"" + owner + "\" held in lp_" + store), none::toString);
        }
    }
}
