package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.api.LockingConfigurationException;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Options that cannot work: a timeout past the driver's integer milliseconds (every call would fail
 * with "no connection"), a pool property HikariCP rejects (its own reason, not the reflection
 * wrapper), a password given the wrong way. Each is refused at start, naming the key, and no
 * password is shown.
 */
@DisplayName("PostgreSQL options that cannot work are refused at start, naming the key")
class PostgresOptionProblemsTest {
    private static final PostgresServer server = PostgresServer.shared();

    private static String refused(Map<String, Object> changes) {
        Map<String, Object> options = TestModules.options(server, server.jdbcUrl(), "public");
        options.putAll(changes);
        LockingConfigurationException e =
                assertThrows(LockingConfigurationException.class, () -> TestModules.module(options)
                        .close());
        assertEquals(1, e.problems().size(), e::getMessage);
        return e.problems().get(0);
    }

    @Test
    void aStatementTimeoutPastTheDriversIntegerMillisecondsIsRefused() {
        assertEquals(
                "locking.providers[0].options.statement-timeout must be at most 2147483647 ms (24 days), was 100000d",
                refused(Map.of("statement-timeout", "100000d")));
        assertTrue(refused(Map.of("lock-timeout", "25d")).contains(".lock-timeout must be at most 2147483647 ms"));
    }

    @Test
    void aLongButWorkableStatementTimeoutStillWorks() {
        Map<String, Object> options = TestModules.options(server, server.jdbcUrl(), server.newSchema("long_timeout"));
        options.put("statement-timeout", "20d");
        try (LockingModule m = TestModules.module(options)) {
            m.migrate();
            m.acquire("k", LockOptions.defaults().owner("o"));
            assertTrue(m.release("k", LockOptions.defaults().owner("o")));
        }
    }

    @Test
    void aPoolSizeOfZeroSaysWhatHikariCpRequires() {
        String problem = refused(Map.of("pool", Map.of("maximumPoolSize", 0)));
        assertEquals(
                "locking.providers[0].options.pool.maximumPoolSize is not a valid HikariCP property (maxPoolSize cannot"
                        + " be less than 1)",
                problem);
    }

    @Test
    void aPasswordGivenAsAListIsRefusedWithoutShowingIt() {
        String problem = refused(Map.of("password", List.of("first-secret", "second-secret")));
        assertEquals("locking.providers[0].options.password must be a string, was a list (not shown)", problem);
        assertFalse(problem.contains("secret"), problem);
    }

    @Test
    void aUserAndPasswordBeforeTheHostAreRefusedWithoutShowingTheUrl() {
        for (String url : List.of(
                "jdbc:postgresql://app:pw-secret@127.0.0.1/test",
                "jdbc:postgresql://app:pw-secret@127.0.0.1:5432/test",
                "jdbc:postgresql://app:pw/secret@127.0.0.1/test",
                "jdbc:postgresql://app:pw?secret@127.0.0.1/test",
                "jdbc:postgresql://app@127.0.0.1/test")) {
            String problem = refused(Map.of("url", url));
            assertTrue(
                    problem.startsWith(
                            "locking.providers[0].options.url must not carry a user or password before" + " the host"),
                    problem);
            assertFalse(problem.contains("secret") || problem.contains("pw") || problem.contains("app@"), problem);
        }
    }

    @Test
    void aPortTheDriverCannotReadIsRefusedBeforeTheDriverLogsIt() {
        for (String port : List.of("0", "65536", "99999", "54x"))
            assertEquals(
                    "locking.providers[0].options.url must be jdbc:postgresql://host[:port][,host[:port]...]/database"
                            + " with ports from 1 to 65535, was \"jdbc:postgresql://127.0.0.1:" + port
                            + "/test\"",
                    refused(Map.of("url", "jdbc:postgresql://127.0.0.1:" + port + "/test?password=pw-secret")));
    }

    @Test
    void hostListsAndAddressesTheDriverReadsAreAccepted() {
        for (String url : List.of(
                "jdbc:postgresql://127.0.0.1:5432,localhost/test",
                "jdbc:postgresql://[::1]:5432/test?user=app@corp",
                "jdbc:postgresql:///test",
                "jdbc:postgresql:test",
                "jdbc:postgresql://db.example.com:65535/test")) {
            Map<String, Object> options = TestModules.options(server, url, "public");
            options.put("pool", Map.of("minimumIdle", 0));
            options.put("notifications", "poll");
            TestModules.module(options).close();
        }
    }

    @Test
    void aUrlPasswordThatDiffersFromThePasswordOptionIsRefusedWithoutShowingEither() {
        String problem = refused(Map.of("url", server.jdbcUrl() + "?password=url-secret", "password", "option-secret"));
        assertEquals(
                "locking.providers[0].options.url holds a password other than locking.providers[0].options.password;"
                        + " keep one of them",
                problem);
    }
}
