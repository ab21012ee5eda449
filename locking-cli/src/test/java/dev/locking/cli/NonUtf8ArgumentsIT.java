package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Raw bytes on the command line of the real tool, as cron, systemd or {@code env -i} run it: no
 * LANG, or LANG/LC_ALL set to C or POSIX, where the JVM decodes its arguments as ASCII. Scripts
 * pass the bytes with bash's {@code $'\xc3\xa9'} quoting. {@code bin/locking} runs the JVM under
 * C.UTF-8 there, so UTF-8 keys and owners arrive intact; bytes that are not UTF-8, and every
 * argument that reaches {@code java -jar locking.jar} undecoded, are refused with exit code 2 and a
 * line that names the argument.
 */
class NonUtf8ArgumentsIT {
    private static final Path JAR = Path.of(System.getProperty("locking.jar", "target/locking.jar"));
    private static final Path LAUNCHER = Path.of("..", "bin", "locking");

    @TempDir
    static Path dir;

    static Path config;

    record Run(String script, int exitCode, String out, String err) {}

    @BeforeAll
    static void configure() {
        config = Stores.config(
                dir,
                "bytes.conf",
                Stores.redis("bytes", "nonutf8-" + UUID.randomUUID().toString().substring(0, 8) + ":", true));
    }

    /** Runs {@code script} with bash in an environment of PATH, JAVA_HOME, LOCKING, JAR, CONF and {@code locale}. */
    private static Run bash(String locale, String script) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", script).directory(dir.toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        env.put("LOCKING", LAUNCHER.toAbsolutePath().normalize().toString());
        env.put("JAR", JAR.toAbsolutePath().toString());
        env.put("CONF", config.toString());
        if (!locale.isEmpty())
            env.put(locale.substring(0, locale.indexOf('=')), locale.substring(locale.indexOf('=') + 1));
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process process =
                pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(2, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError(script + " did not finish in 2 minutes");
        }
        return new Run(
                script,
                process.exitValue(),
                Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    private static JsonNode locks(String locale) throws Exception {
        Run run = bash(locale, "exec \"$LOCKING\" locks --json -c \"$CONF\"");
        assertEquals(0, run.exitCode(), run::toString);
        return new ObjectMapper().readTree(run.out());
    }

    private static List<String> keys(JsonNode locks) {
        List<String> keys = new ArrayList<>();
        locks.get("locks").forEach(l -> keys.add(l.get("key").asText()));
        return keys;
    }

    @ParameterizedTest(name = "locale \"{0}\"")
    @ValueSource(strings = {"", "LANG=C", "LC_ALL=POSIX"})
    void theLauncherPassesUtf8KeysAndOwnersIntactUnderThePosixLocale(String locale) throws Exception {
        Run acquired = bash(locale, "exec \"$LOCKING\" acquire $'caf\\xc3\\xa9' --owner $'jos\\xc3\\xa9' -c \"$CONF\"");
        assertEquals(0, acquired.exitCode(), acquired::toString);
        try {
            JsonNode held = locks(locale).get("locks");
            assertEquals(1, held.size(), held::toString);
            assertEquals("café", held.get(0).get("key").asText());
            assertEquals("josé", held.get(0).get("owner").asText());

            // cafì is another key: releasing it frees nothing.
            Run other =
                    bash(locale, "exec \"$LOCKING\" release $'caf\\xc3\\xac' --owner $'jos\\xc3\\xa9' -c \"$CONF\"");
            assertEquals(1, other.exitCode(), other::toString);
            assertEquals(List.of("café"), keys(locks(locale)));
        } finally {
            Run released =
                    bash(locale, "exec \"$LOCKING\" release $'caf\\xc3\\xa9' --owner $'jos\\xc3\\xa9' -c \"$CONF\"");
            assertEquals(0, released.exitCode(), released::toString);
        }
    }

    @ParameterizedTest(name = "locale \"{0}\"")
    @ValueSource(strings = {"", "LANG=C", "LC_ALL=C.UTF-8"})
    void bytesThatAreNotUtf8AreRefusedNamingTheArgument(String locale) throws Exception {
        for (String bytes : List.of("$'inv\\xff'", "$'inv\\xfe'")) {
            Run refused = bash(locale, "exec \"$LOCKING\" acquire " + bytes + " -c \"$CONF\"");
            assertEquals(2, refused.exitCode(), refused::toString);
            assertTrue(
                    refused.err().startsWith("locking: argument 2 (\"inv\\uFFFD\") is not valid UTF-8"),
                    refused::toString);
            assertEquals(1, refused.err().lines().count(), refused::toString);
        }
        Run owner = bash(locale, "exec \"$LOCKING\" acquire k --owner $'\\xff' -c \"$CONF\"");
        assertEquals(2, owner.exitCode(), owner::toString);
        assertTrue(owner.err().startsWith("locking: the value of --owner (\"\\uFFFD\")"), owner::toString);
        assertEquals(List.of(), keys(locks(locale)));
    }

    @ParameterizedTest(name = "locale \"{0}\"")
    @ValueSource(strings = {"", "LANG=C", "LC_ALL=POSIX"})
    void javaDashJarUnderThePosixLocaleRefusesNonAsciiArgumentsAndSaysWhatToSet(String locale) throws Exception {
        Run key = bash(locale, "exec \"$JAVA\" -jar \"$JAR\" acquire $'caf\\xc3\\xa9' -c \"$CONF\"");
        assertEquals(2, key.exitCode(), key::toString);
        assertTrue(key.err().startsWith("locking: argument 2 (\"caf\\uFFFD\\uFFFD\") did not decode"), key::toString);
        assertTrue(key.err().contains("ANSI_X3.4-1968") && key.err().contains("LC_ALL=C.UTF-8"), key::toString);
        Run owner = bash(locale, "exec \"$JAVA\" -jar \"$JAR\" release k --owner $'jos\\xc3\\xa9' -c \"$CONF\"");
        assertEquals(2, owner.exitCode(), owner::toString);
        assertTrue(owner.err().startsWith("locking: the value of --owner (\"jos\\uFFFD\\uFFFD\")"), owner::toString);
        assertEquals(List.of(), keys(locks(locale)));
    }

    @Test
    void underAUtf8LocaleJavaDashJarTakesUtf8ArgumentsAsTheyAre() throws Exception {
        Run acquired = bash("LC_ALL=C.UTF-8", "exec \"$JAVA\" -jar \"$JAR\" acquire $'\\xe2\\x82\\xac' -c \"$CONF\"");
        assertEquals(0, acquired.exitCode(), acquired::toString);
        assertEquals(List.of("€"), keys(locks("LC_ALL=C.UTF-8")));
        Run released = bash("LC_ALL=C.UTF-8", "exec \"$JAVA\" -jar \"$JAR\" release $'\\xe2\\x82\\xac' -c \"$CONF\"");
        assertEquals(0, released.exitCode(), released::toString);
    }
}
