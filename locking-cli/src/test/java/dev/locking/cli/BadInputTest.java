package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mistakes in arguments and configuration exit with 2 and a line that names the mistake, before any
 * store is contacted: the configuration points at a closed port, so a command that tried the store
 * would exit 3 instead.
 */
class BadInputTest {

    @TempDir
    static Path dir;

    static String config;
    static Cli cli;

    @BeforeAll
    static void configure() throws IOException {
        int closed = Ports.closed();
        config = Stores.config(
                        dir,
                        "closed.conf",
                        "{ resolve = \"locking-postgres\", id = \"pg\", is_default = true, options { url ="
                                + " \"jdbc:postgresql://127.0.0.1:" + closed
                                + "/test\", pool { connectionTimeout = 500 } } }",
                        "{ resolve = \"locking-redis\", id = \"redis\", options { url = \"redis://127.0.0.1:" + closed
                                + "\" } }")
                .toString();
        cli = new Cli(dir);
    }

    private static Cli.Result usage(String expected, String... args) {
        Cli.Result r = cli.run(args).expect(2);
        assertTrue(r.err().contains(expected), () -> "expected \"" + expected + "\" in\n" + r);
        assertFalse(r.err().contains("\tat "), r::toString);
        assertTrue(r.out().isEmpty(), r::toString);
        return r;
    }

    @Test
    void blankKey() {
        usage("invalid argument: key must not be blank", "acquire", " ", "-c", config);
        usage("invalid argument: key must not be blank", "release", "ok", "", "-c", config);
    }

    @Test
    void keyWithNulCharacter() {
        usage("key must not contain the NUL character", "acquire", "a\0b", "-c", config);
    }

    @Test
    void argumentsThatDidNotDecodeAreRefusedNamingThem() {
        Cli.Result key = usage("argument 2 (\"caf\\uFFFD\\uFFFD\") ", "acquire", "caf\uFFFD\uFFFD", "-c", config);
        assertTrue(key.err().contains("two different keys would become the same lock"), key::toString);
        assertEquals(1, key.errLines().size(), key::toString);
        usage("the value of --owner (\"jos\\uFFFD\")", "release", "k", "--owner", "jos\uFFFD", "-c", config);
        usage("the value of --owner (\"jos\\uFFFD\")", "acquire", "k", "--owner=jos\uFFFD", "-c", config);
        usage("the value of --provider", "locks", "--provider", "p\uFFFD", "-c", config);
        usage("the value of --timeout", "acquire", "k", "--timeout", "5\uFFFDs", "-c", config);
        usage("argument 2 (\"--\\uFFFD\")", "release-all", "--\uFFFD", "-c", config);
        usage("argument 1 (\"\\uFFFD\")", "\uFFFD", "k");
        usage("argument 3 (\"-\\uFFFD\")", "acquire", "--", "-\uFFFD", "-c", config);
    }

    @Test
    void negativeDurations() {
        usage(
                "Invalid value for option '--expire': '-5s' is negative",
                "acquire",
                "k",
                "--expire",
                "-5s",
                "-c",
                config);
        usage("Invalid value for option '--timeout': '-1s' is negative", "acquire", "k", "--timeout=-1s", "-c", config);
        usage("Invalid value for option '--duration'", "bench", "--duration", "-3s", "-c", config);
    }

    @Test
    void zeroExpireAndNonsenseDurations() {
        usage("expire must be positive", "acquire", "k", "--expire", "0s", "-c", config);
        usage("'soon' is not a duration", "acquire", "k", "--expire", "soon", "-c", config);
    }

    @Test
    void unknownProviderListsTheRegisteredOnes() {
        Cli.Result r = usage("Unknown locking provider \"nope\"", "acquire", "k", "--provider", "nope", "-c", config);
        assertTrue(r.err().contains("lp_pg (locking-postgres), lp_redis (locking-redis)"), r::toString);
        usage("Unknown locking provider \"nope\"", "release", "k", "--provider", "nope", "-c", config);
        usage("Unknown locking provider \"nope\"", "release-all", "--provider", "nope", "-c", config);
        usage("Unknown locking provider \"nope\"", "locks", "--provider", "nope", "-c", config);
        usage("Unknown locking provider \"nope\"", "bench", "--provider", "nope", "--duration", "1s", "-c", config);
    }

    @Test
    void missingArgumentsAndUnknownCommands() {
        usage("Missing required parameter: 'KEY'", "acquire", "-c", config);
        usage("Missing required parameter: 'KEY'", "release");
        usage("Did you mean: locking locks?", "lock", "k");
        usage("Missing command", new String[0]);
        usage("--limit must be 1 or more", "locks", "--limit", "0", "-c", config);
        usage("--threads must be 1 to 1024", "bench", "--threads", "0", "-c", config);
        usage("--stock must be 1 to 1000000", "demo", "--stock", "0");
    }

    @Test
    void noConfigurationRefusesToTakeLocksThatWouldDieWithTheProcess() {
        usage("no locking.providers configured", "acquire", "k");
        usage("no locking.providers configured", "release", "k");
        usage("no locking.providers configured", "release-all");
        usage("no locking.providers configured", "locks");
    }

    @Test
    void configurationFileThatDoesNotExist() {
        usage(
                "configuration file " + dir.resolve("nope.conf") + " (from --config) does not exist",
                "providers",
                "-c",
                dir.resolve("nope.conf").toString());
    }

    @Test
    void configurationThatDoesNotParse() throws IOException {
        Path broken = Files.writeString(dir.resolve("broken.conf"), "locking.providers = [ { resolve = ");
        usage("bad configuration: " + broken, "providers", "-c", broken.toString());
    }

    @Test
    void registrationOfAnIdentifierNoJarAdvertisesListsTheFoundOnes() {
        Path file = Stores.config(dir, "unknown.conf", "{ resolve = \"locking-mongo\" }");
        usage(
                "no provider jar on the classpath advertises it; found: in-memory, locking-postgres, locking-redis",
                "acquire",
                "k",
                "-c",
                file.toString());
    }

    @Test
    void aPortTheDriverCannotReadIsOneLineWithoutTheDriversOwnWarning() {
        Path file = Stores.config(
                dir,
                "bad-port.conf",
                "{ resolve = \"locking-postgres\", id = \"pg\", options { url ="
                        + " \"jdbc:postgresql://127.0.0.1:99999/test\" } }");
        Cli.Result r = usage("url must be jdbc:postgresql://host[:port]", "acquire", "k", "-c", file.toString());
        assertEquals(1, r.errLines().size(), r::toString);
        assertFalse(r.err().contains("WARNING"), r::toString);
    }

    @Test
    void twoDefaultsAreAConfigurationError() {
        Path file = Stores.config(
                dir,
                "two-defaults.conf",
                "{ resolve = \"in-memory\", id = \"a\", is_default = true }",
                "{ resolve = \"in-memory\", id = \"b\", is_default = true }");
        usage("several registrations with is_default = true: lp_a, lp_b", "providers", "-c", file.toString());
    }
}
