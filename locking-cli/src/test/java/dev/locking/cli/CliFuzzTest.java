package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.spi.HeldLock;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line fed random, malformed and hostile arguments from a seeded generator ({@code
 * -Dfuzz.seed=N} replays a run): every run ends with a documented exit code (0, 1, 2 or 3, never 4,
 * the internal-error code), no stack trace, and a rejected command leaves no lock behind. Keys and
 * owners with terminal escape sequences never reach the output raw, and an argument that did not
 * decode (U+FFFD, what the JVM makes of bytes it cannot decode) is refused with exit code 2.
 */
class CliFuzzTest {
    private static final long SEED = Long.getLong("fuzz.seed", System.nanoTime());
    private static final int CASES = Integer.getInteger("fuzz.cases", 300);

    @TempDir
    static Path dir;

    private static final List<String> COMMANDS =
            List.of("acquire", "release", "release-all", "locks", "providers", "migrate", "aquire", "", "--help");
    private static final List<String> OPTIONS =
            List.of("--owner", "--expire", "--timeout", "--provider", "--limit", "--json", "--nope", "-o", "-x");
    private static final List<String> VALUES = List.of(
            "k1",
            "k2",
            "",
            " ",
            "a\0b",
            "x\uD800",
            "*",
            "'; DROP TABLE locking; --",
            "{t}:a",
            "🔒",
            "-1s",
            "0s",
            "1ms",
            "500ms",
            "5",
            "5x",
            "99999999999d",
            "-5",
            "0",
            "lp_fuzz",
            "fuzz",
            "lp_nope",
            "o1",
            "x".repeat(1100),
            "\u001B[2J\u001B[H",
            "k\r\nlocking: forged line",
            "\u001B]0;title\u0007",
            "\u001B]52;c;cm0gLXJmIH4=\u0007",
            "\u009B31m",
            "\u202Eevil",
            "tab\there",
            "caf\uFFFD\uFFFD",
            "inv\uFFFD");
    /** Values that are keys a command may have taken, checked free after a rejected command. */
    private static final List<String> KEYS = List.of(
            "k1",
            "k2",
            "*",
            "{t}:a",
            "🔒",
            "'; DROP TABLE locking; --",
            "\u001B[2J\u001B[H",
            "k\r\nlocking: forged line",
            "\u001B]0;title\u0007",
            "\u001B]52;c;cm0gLXJmIH4=\u0007",
            "\u009B31m",
            "\u202Eevil",
            "tab\there");

    @Test
    void everyRunEndsWithADocumentedExitCodeAndNoStackTrace() {
        String namespace = "clifuzz-" + ProcessHandle.current().pid() + ":";
        Path config = Stores.config(dir, "fuzz.conf", Stores.redis("fuzz", namespace, true));
        Cli cli = new Cli(dir);
        Random r = new Random(SEED);
        System.out.println("CliFuzzTest seed " + SEED + " (replay with -Dfuzz.seed=" + SEED + ")");
        int[] byCode = new int[5];
        ArrayDeque<String> recent = new ArrayDeque<>();
        try (LockingModule locking =
                LockingModule.create(ConfigFactory.parseFile(config.toFile()).resolve())) {
            for (int i = 0; i < CASES; i++) {
                List<String> args = new ArrayList<>();
                args.add(COMMANDS.get(r.nextInt(COMMANDS.size())));
                for (int n = r.nextInt(5); n > 0; n--)
                    args.add(
                            r.nextBoolean()
                                    ? OPTIONS.get(r.nextInt(OPTIONS.size()))
                                    : VALUES.get(r.nextInt(VALUES.size())));
                args.add("-c");
                args.add(config.toString());
                Cli.Result result = cli.run(args.toArray(String[]::new));
                String show = "case " + i + " (seed " + SEED + "): locking " + args + "\n" + result;
                recent.addLast(show);
                if (recent.size() > 6) recent.removeFirst();
                assertTrue(Set.of(0, 1, 2, 3).contains(result.exitCode()), show);
                byCode[result.exitCode()]++;
                assertFalse(result.err().contains("\tat "), "a stack trace without --verbose: " + show);
                boolean json = args.contains("--json") && !args.contains("--help");
                TerminalInjectionTest.assertNothingSteersTheTerminal((json ? "" : result.out()) + result.err(), show);
                if (json && result.exitCode() == 0) result.json();
                if (args.stream().anyMatch(a -> a.indexOf('\uFFFD') >= 0)) {
                    assertEquals(2, result.exitCode(), show);
                    assertTrue(
                            result.err().contains("is not valid UTF-8")
                                    || result.err().contains("did not decode"),
                            show);
                }
                if (result.exitCode() == 2)
                    for (String k : KEYS) {
                        LockOptions checker = LockOptions.defaults().owner("checker");
                        try {
                            locking.acquire(k, checker); // a rejected command took nothing
                        } catch (LockAcquisitionException e) {
                            fail(
                                    "key " + k + " is still held: " + cli.run("locks", "-c", config.toString())
                                            + "\nafter:\n"
                                            + String.join("\n", recent).replace("\0", "\\0"),
                                    e);
                        }
                        assertTrue(locking.release(k, checker));
                    }
                // Accepted acquires hold their locks on purpose, under any owner the generator
                // picked; free them all for the next case.
                for (HeldLock held : locking.locks(LockOptions.defaults(), 1_000))
                    assertTrue(
                            locking.release(
                                    held.key(),
                                    held.owner() == null
                                            ? LockOptions.defaults()
                                            : LockOptions.defaults().owner(held.owner())),
                            () -> "could not free " + held + " after: " + String.join("\n", recent));
                assertEquals(List.of(), locking.locks(LockOptions.defaults(), 10), "locks left after cleanup");
            }
        }
        System.out.printf(
                "CLI fuzz: %d runs: exit 0: %d, 1: %d, 2: %d, 3: %d%n",
                CASES, byCode[0], byCode[1], byCode[2], byCode[3]);
        assertTrue(byCode[0] > 0 && byCode[2] > CASES / 4, "the generator is not exercising both paths");
    }
}
