package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** providers, and where the configuration comes from: --config, $LOCKING_CONFIG, ./application.conf, none. */
class ProvidersAndConfigLookupTest {

    @TempDir
    Path dir;

    private static String registration(String id) {
        return "{ resolve = \"in-memory\", id = \"" + id + "\" }";
    }

    private static List<String> addresses(JsonNode json) {
        List<String> out = new ArrayList<>();
        json.get("registrations").forEach(r -> out.add(r.get("address").asText()));
        return out;
    }

    @Test
    void providersListsEveryJarEveryRegistrationTheDefaultAndWhy() {
        Path file = Stores.config(
                dir,
                "app.conf",
                Stores.postgres("postgres-lock", "public", true),
                Stores.redis("cache", "unused:", false));
        Cli.Result table = new Cli(dir).run("providers", "-c", file.toString()).expect(0);
        String out = table.out();
        assertTrue(out.contains("Configuration: " + file + " (from --config)"), table::toString);
        assertTrue(out.contains("dev.locking.inmemory.InMemoryLockingProviderFactory"), table::toString);
        assertTrue(out.contains("dev.locking.postgres.PostgresLockingProviderFactory"), table::toString);
        assertTrue(out.contains("dev.locking.redis.RedisLockingProviderFactory"), table::toString);
        assertTrue(
                out.lines()
                        .anyMatch(l -> l.startsWith("lp_postgres-lock")
                                && l.contains(" yes ")
                                && l.endsWith("is_default = true")),
                table::toString);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("lp_cache") && l.contains(" no ")), table::toString);

        JsonNode json = new Cli(dir)
                .run("providers", "-c", file.toString(), "--json")
                .expect(0)
                .json();
        List<String> found = new ArrayList<>();
        json.get("found").forEach(f -> found.add(f.get("identifier").asText()));
        assertEquals(
                List.of("in-memory", "locking-postgres", "locking-redis"),
                found.stream().sorted().toList());
        assertEquals(List.of("lp_postgres-lock", "lp_cache"), addresses(json));
        assertEquals("lp_postgres-lock", json.get("default").asText());
        assertEquals(
                "locking-redis",
                json.get("registrations").get(1).get("identifier").asText());
        assertFalse(json.get("registrations").get(1).get("default").asBoolean());
    }

    @Test
    void withoutAnyConfigurationInMemoryIsTheDefaultAndSaysWhy() {
        JsonNode json = new Cli(dir).run("providers", "--json").expect(0).json();
        assertEquals(List.of("lp_in-memory"), addresses(json));
        assertTrue(json.get("configuration").asText().startsWith("none"), json::toString);
        assertTrue(
                json.get("registrations").get(0).get("reason").asText().contains("no locking.providers configured"),
                json::toString);
    }

    @Test
    void lockingConfigVariableIsUsedAndResolvedAgainstTheWorkingDirectory() throws IOException {
        Files.createDirectories(dir.resolve("conf"));
        Stores.config(dir.resolve("conf"), "env.conf", registration("from-env"));
        Cli cli = new Cli(Map.of("LOCKING_CONFIG", "conf/env.conf"), dir);
        JsonNode json = cli.run("providers", "--json").expect(0).json();
        assertEquals(List.of("lp_from-env"), addresses(json));
        assertTrue(json.get("configuration").asText().endsWith("(from $LOCKING_CONFIG)"), json::toString);
    }

    @Test
    void applicationConfInTheWorkingDirectoryIsUsed() {
        Stores.config(dir, "application.conf", registration("from-cwd"));
        JsonNode json = new Cli(dir).run("providers", "--json").expect(0).json();
        assertEquals(List.of("lp_from-cwd"), addresses(json));
        assertTrue(json.get("configuration").asText().endsWith("(from the working directory)"), json::toString);
    }

    @Test
    void configOptionWinsOverTheVariableWhichWinsOverApplicationConf() {
        Stores.config(dir, "application.conf", registration("from-cwd"));
        Path env = Stores.config(dir, "env.conf", registration("from-env"));
        Path option = Stores.config(dir, "option.conf", registration("from-option"));
        Cli cli = new Cli(Map.of("LOCKING_CONFIG", env.toString()), dir);
        assertEquals(
                List.of("lp_from-env"),
                addresses(cli.run("providers", "--json").expect(0).json()));
        assertEquals(
                List.of("lp_from-option"),
                addresses(cli.run("providers", "--json", "--config", option.toString())
                        .expect(0)
                        .json()));
    }

    @Test
    void aVariableNamingAMissingFileIsAnErrorNotASilentFallback() {
        Stores.config(dir, "application.conf", registration("from-cwd"));
        Cli cli = new Cli(Map.of("LOCKING_CONFIG", "typo.conf"), dir);
        Cli.Result r = cli.run("providers").expect(2);
        assertTrue(r.err().contains("typo.conf (from $LOCKING_CONFIG) does not exist"), r::toString);
    }

    @Test
    void helpAndVersionExitZero() {
        Cli.Result help = new Cli(dir).run("--help").expect(0);
        assertTrue(help.out().contains("Exit codes:"), help::toString);
        assertTrue(help.out().contains("3   store unreachable"), help::toString);
        Cli.Result acquireHelp = new Cli(dir).run("acquire", "--help").expect(0);
        assertTrue(acquireHelp.out().contains("--expire=DURATION"), acquireHelp::toString);
        assertTrue(new Cli(dir).run("--version").expect(0).out().startsWith("locking "));
    }
}
