package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PrivatePostgres;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What session mode promises an uncontended lock costs the database: no WAL, so no flush. Measured
 * on a private server, where nothing else writes.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PostgresSessionWritesTest {

    @Test
    void uncontendedLocksWriteNoWal() {
        try (PrivatePostgres pg = PrivatePostgres.start()) {
            Map<String, Object> options = new HashMap<>();
            options.put("url", pg.jdbcUrl());
            options.put("user", pg.user());
            options.put("mode", "session");
            try (LockingModule locking = TestModules.module(options)) {
                locking.migrate();
                LockOptions a = LockOptions.defaults().owner("A");
                // Warm up: sessions opened, statements prepared.
                for (int i = 0; i < 10; i++) {
                    locking.acquire("warm-" + i, a);
                    assertTrue(locking.release("warm-" + i, a));
                }
                long walBefore = walBytes(pg);
                int rounds = 300;
                for (int i = 0; i < rounds; i++) {
                    locking.acquire("k-" + i, a);
                    locking.acquire(List.of("m-" + i, "n-" + i), a);
                    assertTrue(locking.release("k-" + i, a));
                    assertTrue(locking.release(List.of("m-" + i, "n-" + i), a));
                }
                long wal = walBytes(pg) - walBefore;
                // Table mode writes about 550 bytes per acquire + release; a background record of
                // the server (running transactions, every 15 s) is a few dozen.
                assertTrue(
                        wal < 2048, rounds * 2 + " uncontended acquire + release pairs wrote " + wal + " bytes of WAL");
            }
        }
    }

    private static long walBytes(PrivatePostgres pg) {
        return Long.parseLong(
                pg.query("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").split("\\.")[0]);
    }
}
