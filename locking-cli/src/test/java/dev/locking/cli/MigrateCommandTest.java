package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MigrateCommandTest {

    @TempDir
    Path dir;

    @Test
    void migrateAppliesPostgresMigrationsOnceAndReportsTheRestUpToDate() {
        String schema = PostgresServer.shared().newSchema("cli_migrate");
        String config = Stores.config(
                        dir,
                        "migrate.conf",
                        Stores.postgres("pg", schema, true),
                        Stores.redis("redis", RedisServer.namespace(MigrateCommandTest.class), false))
                .toString();
        Cli cli = new Cli(dir);

        JsonNode first = cli.run("migrate", "-c", config, "--json").expect(0).json();
        JsonNode migrations = first.get("migrations");
        assertEquals(2, migrations.size(), first::toString);
        assertEquals("lp_pg", migrations.get(0).get("provider").asText());
        assertEquals("locking-postgres", migrations.get(0).get("identifier").asText());
        assertTrue(migrations.get(0).get("applied").size() >= 1, first::toString);
        assertTrue(migrations.get(0).get("applied").get(0).asText().contains(schema), first::toString);
        assertEquals("lp_redis", migrations.get(1).get("provider").asText());
        assertEquals(0, migrations.get(1).get("applied").size(), first::toString);

        Cli.Result again = cli.run("migrate", "-c", config).expect(0);
        assertTrue(again.out().contains("lp_pg (locking-postgres): up to date, nothing to apply"), again::toString);
        assertTrue(again.out().contains("lp_redis (locking-redis): up to date, nothing to apply"), again::toString);

        // Migrated: the schema takes locks now.
        cli.run("acquire", "migrated", "--owner", "o", "-c", config).expect(0);
        cli.run("release", "migrated", "--owner", "o", "-c", config).expect(0);
    }

    @Test
    void anUnmigratedSchemaIsAStoreErrorThatSaysToRunMigrate() {
        String schema = PostgresServer.shared().newSchema("cli_unmigrated");
        String config = Stores.config(dir, "fresh.conf", Stores.postgres("pg", schema, true))
                .toString();
        Cli.Result r = new Cli(dir).run("acquire", "k", "-c", config).expect(3);
        assertEquals(1, r.errLines().size(), r::toString);
        assertTrue(r.err().contains("locking migrate"), r::toString);
    }
}
