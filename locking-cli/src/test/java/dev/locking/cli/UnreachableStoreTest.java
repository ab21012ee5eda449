package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A store that cannot be reached: exit code 3 and one line on stderr, the stack trace only with --verbose. */
class UnreachableStoreTest {

    @TempDir
    static Path dir;

    static String config;
    static Cli cli;

    @BeforeAll
    static void configure() {
        int closed = Ports.closed();
        config = Stores.config(
                        dir,
                        "closed.conf",
                        "{ resolve = \"locking-postgres\", id = \"pg\", is_default = true, options { url ="
                                + " \"jdbc:postgresql://127.0.0.1:" + closed
                                + "/test\", user = \"postgres\", pool { connectionTimeout = 500 } } }",
                        "{ resolve = \"locking-redis\", id = \"redis\", options { url = \"redis://127.0.0.1:" + closed
                                + "\", connect-timeout = 500ms } }")
                .toString();
        cli = new Cli(dir);
    }

    private static Cli.Result unreachable(String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "-c";
        all[args.length + 1] = config;
        Cli.Result r = cli.run(all).expect(3);
        assertEquals(1, r.errLines().size(), () -> "one line on stderr expected:\n" + r);
        assertTrue(r.err().startsWith("locking: store unreachable: "), r::toString);
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), r::toString);
        assertTrue(r.out().isEmpty(), r::toString);
        return r;
    }

    @Test
    void postgresCommandsPrintOneLineAndExit3() {
        Cli.Result r = unreachable("acquire", "k", "--owner", "o");
        assertTrue(r.err().contains("lp_pg (locking-postgres)"), r::toString);
        assertTrue(r.err().contains("Check that PostgreSQL is running"), r::toString);
        unreachable("release", "k", "--owner", "o");
        unreachable("release-all", "--owner", "o");
        unreachable("locks");
        unreachable("migrate");
        unreachable("bench", "--duration", "1s", "--threads", "1");
    }

    @Test
    void redisCommandsPrintOneLineAndExit3() {
        Cli.Result r = unreachable("acquire", "k", "--provider", "redis");
        assertTrue(r.err().contains("lp_redis"), r::toString);
        unreachable("release", "k", "--provider", "redis");
        unreachable("release-all", "--provider", "redis");
        unreachable("acquire", "k", "--provider", "redis", "--json");
    }

    @Test
    void verboseAddsTheStackTraceAndTheLibrarysLog() {
        Cli.Result r = cli.run("acquire", "k", "-c", config, "--verbose").expect(3);
        assertTrue(r.err().contains("locking: store unreachable: "), r::toString);
        assertTrue(r.err().contains("\tat dev.locking."), r::toString);
        assertTrue(r.err().contains("Registered locking provider lp_pg"), r::toString);
    }

    @Test
    void providersDoesNotContactTheStore() {
        Cli.Result r = cli.run("providers", "-c", config).expect(0);
        assertTrue(r.out().contains("lp_pg"), r::toString);
        assertTrue(r.err().isEmpty(), r::toString);
    }
}
