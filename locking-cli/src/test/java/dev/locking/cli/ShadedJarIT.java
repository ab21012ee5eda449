package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.locking.testkit.servers.RedisServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runnable jar as users run it, {@code java -jar locking.jar}, in a process of its own: after
 * {@code package}, so it tests what shading produced (merged service files and reference.conf
 * files, the manifest, logging set up from the jar) rather than the test classpath.
 */
class ShadedJarIT {
    private static final Path JAR = Path.of(System.getProperty("locking.jar", "target/locking.jar"));

    @TempDir
    Path dir;

    record Run(int exitCode, String out, String err) {}

    private Run java(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                JAR.toAbsolutePath().toString()));
        command.addAll(List.of(args));
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectOutput(out.toFile())
                .redirectError(err.toFile());
        pb.environment().remove("LOCKING_CONFIG");
        Process process = pb.start();
        if (!process.waitFor(5, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("locking " + String.join(" ", args) + " did not finish in 5 minutes");
        }
        return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void everyProvidersServiceEntryAndReferenceConfIsMerged() throws IOException {
        try (JarFile jar = new JarFile(JAR.toFile())) {
            String services = new String(
                    jar.getInputStream(jar.getEntry("META-INF/services/dev.locking.spi.LockingProviderFactory"))
                            .readAllBytes(),
                    StandardCharsets.UTF_8);
            assertTrue(services.contains("dev.locking.inmemory.InMemoryLockingProviderFactory"), services);
            assertTrue(services.contains("dev.locking.postgres.PostgresLockingProviderFactory"), services);
            assertTrue(services.contains("dev.locking.redis.RedisLockingProviderFactory"), services);
            String reference = new String(
                    jar.getInputStream(jar.getEntry("reference.conf")).readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(reference.contains("renewal-threads"), "core's reference.conf");
            assertTrue(reference.contains("locking.provider-defaults.in-memory"), "in-memory's reference.conf");
            assertTrue(reference.contains("locking.provider-defaults.locking-postgres"), "postgres' reference.conf");
            assertTrue(reference.contains("locking.provider-defaults.locking-redis"), "redis' reference.conf");
            assertEquals(
                    "dev.locking.cli.LockingCli",
                    jar.getManifest().getMainAttributes().getValue("Main-Class"));
        }
    }

    @Test
    void theJarFindsAllThreeProviders() throws Exception {
        Run run = java("providers", "--json");
        assertEquals(0, run.exitCode(), run::toString);
        JsonNode json = new ObjectMapper().readTree(run.out());
        List<String> found = new ArrayList<>();
        json.get("found").forEach(f -> found.add(f.get("identifier").asText()));
        assertEquals(
                List.of("in-memory", "locking-postgres", "locking-redis"),
                found.stream().sorted().toList());
        assertTrue(run.err().isEmpty(), run::toString);
    }

    @Test
    void anUnreachableStorePrintsExactlyOneLineFromTheRealProcess() throws Exception {
        int closed = Ports.closed();
        Path config = Stores.config(
                dir,
                "closed.conf",
                "{ resolve = \"locking-postgres\", id = \"pg\", options { url = \"jdbc:postgresql://127.0.0.1:" + closed
                        + "/test\", pool { connectionTimeout = 500 } } }");
        Run run = java("acquire", "k", "--config", config.toString());
        assertEquals(3, run.exitCode(), run::toString);
        assertEquals(1, run.err().lines().count(), run::toString);
        assertTrue(run.err().startsWith("locking: store unreachable: lp_pg (locking-postgres)"), run::toString);
        assertTrue(run.out().isEmpty(), run::toString);
    }

    @Test
    void theQuickStartDemoRunsFromTheJar() throws Exception {
        Run run = java(
                "demo",
                "--stock",
                "5",
                "--instances",
                "2",
                "--threads",
                "2",
                "--redis-url",
                RedisServer.shared().url());
        assertEquals(0, run.exitCode(), run::toString);
        assertTrue(run.out().contains("Embedded PostgreSQL ready"), run::toString);
        assertTrue(
                run.out().lines().anyMatch(l -> l.startsWith("none (no lock)") && l.contains(" yes ")), run::toString);
        for (String provider : List.of("lp_locking-postgres ", "lp_in-memory ", "lp_locking-redis "))
            assertTrue(
                    run.out().lines().anyMatch(l -> l.startsWith(provider) && l.contains("  5      5     no ")),
                    run::toString);
        assertFalse(run.out().contains("Skipped"), run::toString);
    }

    @Override
    public String toString() {
        return JAR.toString();
    }
}
