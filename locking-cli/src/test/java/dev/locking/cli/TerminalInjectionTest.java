package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.spi.Printable;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Keys and owners may hold any character but NUL. Stored by an application (or a hostile user),
 * they reach the terminal through {@code locking locks} and through the tool's sentences and error
 * lines; there every control character is escaped, so a key cannot clear the screen, draw a fake
 * row, set the window title or write the clipboard. {@code --json} keeps the text as it is, in
 * JSON's own escaping.
 */
@DisplayName("Keys, owners and messages reach the terminal escaped")
class TerminalInjectionTest {

    /** Clears the screen, homes the cursor, draws a fake row, sets the title, writes the clipboard. */
    static final String HOSTILE = "\u001B[2J\u001B[Hk\r\nFAKE  nobody  never  1\u001B]0;pwned\u0007"
            + "\u001B]52;c;cm0gLXJmIH4=\u0007\u009B31m\u202Eevil\t";

    @TempDir
    static Path dir;

    static Path config;
    static Path closedConfig;
    static Cli cli;

    @BeforeAll
    static void configure() {
        String schema = PostgresServer.shared().newSchema("cli_tty");
        String namespace = RedisServer.namespace(TerminalInjectionTest.class);
        config = Stores.config(
                dir, "tty.conf", Stores.postgres("pg", schema, true), Stores.redis("redis", namespace, false));
        int closed = Ports.closed();
        closedConfig = Stores.config(
                dir,
                "closed.conf",
                "{ resolve = \"locking-postgres\", id = \"pg\", options { url = \"jdbc:postgresql://127.0.0.1:" + closed
                        + "/test\", pool { connectionTimeout = 500 } } }");
        cli = new Cli(dir);
        cli.run("migrate", "-c", config.toString()).expect(0);
    }

    private static LockingModule module() {
        return LockingModule.create(ConfigFactory.parseFile(config.toFile()).resolve());
    }

    /** Fails unless every character of {@code text} is printable, but for line ends and leading tabs. */
    static void assertNothingSteersTheTerminal(String text, Object context) {
        for (String line : text.split("\n", -1)) {
            int i = 0;
            while (i < line.length() && line.charAt(i) == '\t') i++;
            String rest = line.substring(i);
            if (!Printable.escape(rest).equals(rest.replace("\\", "\\\\")))
                fail("a character that steers the terminal reached the output: " + Printable.escape(line) + "\nin "
                        + Printable.escape(String.valueOf(context)));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void locksPrintsAStoredHostileKeyAndOwnerEscapedAndTheColumnsStillLineUp(String store) {
        String key = HOSTILE + UUID.randomUUID();
        String owner = "own\u001B[8m" + UUID.randomUUID();
        try (LockingModule module = module()) {
            module.acquire(key, LockOptions.defaults().provider(store).owner(owner));
            module.acquire(
                    "plain-" + UUID.randomUUID(),
                    LockOptions.defaults().provider(store).owner(owner));
        }
        try {
            Cli.Result r = cli.run("locks", "--provider", store, "--owner", owner, "-c", config.toString())
                    .expect(0);
            assertNothingSteersTheTerminal(r.out() + r.err(), r);
            assertTrue(r.out().contains(Printable.escape(key)), r::toString);
            assertTrue(r.out().contains("of owner \"" + Printable.escape(owner) + "\""), r::toString);
            List<String> lines = r.out().lines().toList();
            String header = lines.get(1);
            int ownerColumn = header.indexOf("OWNER");
            int expiresColumn = header.indexOf("EXPIRES");
            assertEquals(4, lines.size(), r::toString); // title, header, two rows: no forged row
            for (String row : lines.subList(2, 4)) {
                assertEquals(ownerColumn, row.indexOf(Printable.escape(owner)), () -> "misaligned:\n" + r);
                assertEquals(expiresColumn, row.indexOf("never", ownerColumn), () -> "misaligned:\n" + r);
            }

            // --json keeps the text itself.
            var json = cli.run("locks", "--provider", store, "--owner", owner, "--json", "-c", config.toString())
                    .expect(0)
                    .json();
            assertEquals(owner, json.get("owner").asText());
            assertTrue(json.get("locks").findValuesAsText("key").contains(key), json::toString);
        } finally {
            cli.run("release-all", "--provider", store, "--owner", owner, "-c", config.toString());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pg", "redis"})
    void sentencesAndErrorLinesEscapeKeysAndOwners(String store) {
        String key = HOSTILE + UUID.randomUUID();
        String owner = "o\u0007\u001B[31m" + UUID.randomUUID();
        String c = config.toString();
        try {
            List<Cli.Result> results = List.of(
                    cli.run("acquire", key, "--owner", owner, "--provider", store, "-c", c)
                            .expect(0),
                    cli.run("acquire", key, "--owner", "someone-else", "--provider", store, "-c", c)
                            .expect(1),
                    cli.run("acquire", key, "--owner", "waiter", "--timeout", "100ms", "--provider", store, "-c", c)
                            .expect(1),
                    cli.run("release", key, "--owner", "someone-else", "--provider", store, "-c", c)
                            .expect(1),
                    cli.run("release", key, "x" + key, "--owner", "someone-else", "--provider", store, "-c", c)
                            .expect(1),
                    cli.run("release", key, "--owner", owner, "--provider", store, "-c", c)
                            .expect(0),
                    cli.run("release-all", "--owner", owner, "--provider", store, "-c", c)
                            .expect(0));
            for (Cli.Result r : results) assertNothingSteersTheTerminal(r.out() + r.err(), r);
            assertTrue(results.get(1).err().contains(Printable.escape(key)), () -> results.get(1)
                    .toString());
            assertTrue(results.get(3).err().contains(Printable.escape(key)), () -> results.get(3)
                    .toString());
            assertTrue(results.get(5).out().contains(Printable.escape(key)), () -> results.get(5)
                    .toString());
            assertTrue(results.get(6).out().contains(Printable.escape(owner)), () -> results.get(6)
                    .toString());
        } finally {
            cli.run("release-all", "--provider", store, "--owner", owner, "-c", c);
        }
    }

    @Test
    void usageErrorsEscapeWhatTheUserTyped() {
        String c = config.toString();
        List<Cli.Result> results = List.of(
                cli.run("acquire", "k", "--provider", "\u001B]0;x\u0007nope", "-c", c)
                        .expect(2),
                cli.run("acquire", "k", "--expire", "\u001B[2Jsoon", "-c", c).expect(2),
                cli.run("acquire", "k", "--\u001B[2J", "-c", c).expect(2),
                cli.run("\u001B[2Jlocks", "-c", c).expect(2),
                cli.run("locks", "-c", dir.resolve("\u001B[2Jmissing.conf").toString())
                        .expect(2));
        for (Cli.Result r : results) {
            assertNothingSteersTheTerminal(r.out() + r.err(), r);
            assertTrue(r.err().contains("\\u001B"), r::toString);
        }
    }

    @Test
    void storeErrorsAndVerboseStackTracesEscapeTheKey() {
        Cli.Result r =
                cli.run("acquire", HOSTILE, "-c", closedConfig.toString()).expect(3);
        assertNothingSteersTheTerminal(r.out() + r.err(), r);
        assertEquals(1, r.errLines().size(), r::toString);
        Cli.Result verbose = cli.run("acquire", HOSTILE, "--verbose", "-c", closedConfig.toString())
                .expect(3);
        assertNothingSteersTheTerminal(verbose.out() + verbose.err(), verbose);
        assertTrue(verbose.err().contains("\tat dev.locking."), verbose::toString);
    }
}
