package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.testkit.servers.PostgresServer;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lock taken by the command line on a registration whose locks end with the process
 * (locking-postgres with {@code mode = "session"}) is gone when {@code locking} exits: the commands
 * say so instead of reporting a lock that no longer exists as held.
 */
@DisplayName("the command line warns that session-mode locks end when it exits")
class ProcessBoundLocksNoteTest {

    @TempDir
    static Path dir;

    static String config;
    static Cli cli;

    @BeforeAll
    static void migrate() {
        String schema = PostgresServer.shared().newSchema("cli_session");
        String session = Stores.postgres("pgs", schema, true).replace(" } }", ", mode = \"session\" } }");
        String table = Stores.postgres("pg", schema, false);
        config = Stores.config(dir, "session.conf", session, table).toString();
        cli = new Cli(dir);
        cli.run("migrate", "-c", config).expect(0);
    }

    @Test
    void acquireOnASessionModeRegistrationWarnsThatTheLockEndsWithTheProcess() {
        String key = "k_" + UUID.randomUUID().toString().substring(0, 8);
        Cli.Result acquired = cli.run("acquire", key, "--owner", "ops", "--provider", "pgs", "-c", config)
                .expect(0);
        assertTrue(
                acquired.err()
                        .contains("locking: note: lp_pgs holds its locks on this process's own server" + " sessions"),
                acquired::toString);
        assertTrue(acquired.err().contains("ends when `locking` exits"), acquired::toString);

        // True to the note: the lock went with the process, so another command takes the key at once.
        cli.run("acquire", key, "--owner", "other", "--provider", "pgs", "-c", config)
                .expect(0);
        Cli.Result listed = cli.run("locks", "--provider", "pgs", "-c", config).expect(0);
        assertTrue(listed.err().contains("other processes' locks are not listed here"), listed::toString);
    }

    @Test
    void aTableModeRegistrationGivesNoSuchNote() {
        String key = "k_" + UUID.randomUUID().toString().substring(0, 8);
        Cli.Result acquired = cli.run("acquire", key, "--owner", "ops", "--provider", "pg", "-c", config)
                .expect(0);
        assertFalse(acquired.err().contains("note:"), acquired::toString);
        cli.run("release", key, "--owner", "ops", "--provider", "pg", "-c", config)
                .expect(0);
    }
}
