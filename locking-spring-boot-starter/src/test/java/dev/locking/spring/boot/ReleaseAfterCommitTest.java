package dev.locking.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceTransactionManagerAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.JdbcTemplateAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration;
import org.springframework.context.ApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * {@code execute} inside a Spring transaction, selling a stock counter kept in PostgreSQL: the
 * transaction does more work after the job (the sale's record, a pause) before it commits.
 */
class ReleaseAfterCommitTest {
    private static final int STOCK = 20;
    private static final int BUYERS = 6;

    private ApplicationContextRunner shop() {
        PostgresServer pg = PostgresServer.shared();
        String schema = pg.newSchema("tx");
        pg.execute("CREATE TABLE " + schema + ".stock (product text PRIMARY KEY, left_count int NOT NULL)");
        pg.execute("INSERT INTO " + schema + ".stock VALUES ('prod_123', " + STOCK + ")");
        pg.execute("CREATE TABLE " + schema + ".sales (id serial PRIMARY KEY, product text NOT NULL)");
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(
                        DataSourceAutoConfiguration.class,
                        DataSourceTransactionManagerAutoConfiguration.class,
                        JdbcTemplateAutoConfiguration.class,
                        TransactionAutoConfiguration.class,
                        LockingAutoConfiguration.class))
                .withPropertyValues(
                        "spring.datasource.url=" + pg.jdbcUrl() + "?currentSchema=" + schema,
                        "spring.datasource.username=" + pg.user(),
                        "spring.datasource.hikari.maximum-pool-size=" + (BUYERS + 4),
                        "locking.providers[0].resolve=locking-postgres",
                        "locking.providers[0].id=pg",
                        "locking.providers[0].options.schema=" + schema,
                        "locking.migrate-on-start=true");
    }

    /** One sale in one transaction: read, write back under the lock; then the rest of the transaction. */
    private static boolean buy(ApplicationContext context) {
        JdbcTemplate jdbc = context.getBean(JdbcTemplate.class);
        LockingModule locking = context.getBean(LockingModule.class);
        return context.getBean(TransactionTemplate.class).execute(status -> {
            boolean sold = locking.execute("prod_123", lock -> {
                int left =
                        jdbc.queryForObject("SELECT left_count FROM stock WHERE product = 'prod_123'", Integer.class);
                if (left == 0) return false;
                jdbc.update("UPDATE stock SET left_count = ? WHERE product = 'prod_123'", left - 1);
                return true;
            });
            if (sold) jdbc.update("INSERT INTO sales (product) VALUES ('prod_123')");
            pause(15);
            return sold;
        });
    }

    private static int sellOut(ApplicationContext context) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(BUYERS);
        try {
            List<Future<Integer>> buyers = new ArrayList<>();
            for (int i = 0; i < BUYERS; i++)
                buyers.add(pool.submit(() -> {
                    int bought = 0;
                    while (buy(context)) bought++;
                    return bought;
                }));
            int sold = 0;
            for (Future<Integer> buyer : buyers) sold += buyer.get(120, TimeUnit.SECONDS);
            assertEquals(
                    sold,
                    context.getBean(JdbcTemplate.class).queryForObject("SELECT count(*) FROM sales", Integer.class));
            return sold;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void executeInsideATransactionSellsExactlyTheStock() {
        shop().run(context -> {
            assertEquals(STOCK, sellOut(context));
            assertEquals(
                    0,
                    context.getBean(JdbcTemplate.class).queryForObject("SELECT left_count FROM stock", Integer.class));
        });
    }

    /** The same shop releasing when the job returns, before the commit: it oversells. */
    @Test
    void releasingBeforeTheCommitOversells() {
        shop().withPropertyValues("locking.release-after-commit=false").run(context -> {
            int sold = sellOut(context);
            assertTrue(sold > STOCK, "sold " + sold + " of " + STOCK);
        });
    }

    @Test
    void aLeaseLostBeforeTheCommitRollsTheTransactionBack() {
        shop().run(context -> {
            JdbcTemplate jdbc = context.getBean(JdbcTemplate.class);
            LockingModule locking = context.getBean(LockingModule.class);
            AtomicReference<String> owner = new AtomicReference<>();
            LockLostException lost =
                    assertThrows(LockLostException.class, () -> context.getBean(TransactionTemplate.class)
                            .executeWithoutResult(status -> {
                                locking.execute("prod_123", lock -> {
                                    owner.set(lock.owner());
                                    return jdbc.update("UPDATE stock SET left_count = 0");
                                });
                                // Another holder takes the key over, as after a lease ran out.
                                locking.releaseAll(LockOptions.defaults().owner(owner.get()));
                            }));
            assertTrue(lost.getMessage().contains("before the transaction committed"), lost.getMessage());
            assertEquals(STOCK, jdbc.queryForObject("SELECT left_count FROM stock", Integer.class));
        });
    }

    @Test
    void theWarningOfALostLeaseShowsTheKeyEscaped() {
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        Logger logger = (Logger) LoggerFactory.getLogger(ReleaseAfterCommit.class);
        logger.addAppender(log);
        try {
            shop().run(context -> {
                LockingModule locking = context.getBean(LockingModule.class);
                assertThrows(LockLostException.class, () -> context.getBean(TransactionTemplate.class)
                        .executeWithoutResult(status -> {
                            String owner = locking.execute("prod\n[WARN] forged", lock -> lock.owner());
                            locking.releaseAll(LockOptions.defaults().owner(owner));
                        }));
            });
        } finally {
            logger.detachAppender(log);
        }
        assertEquals(1, log.list.size(), log.list.toString());
        String line = log.list.get(0).getFormattedMessage();
        assertFalse(line.contains("\n"), line);
        assertTrue(line.contains("prod\\n[WARN] forged"), line);
    }

    @Test
    void outsideATransactionExecuteReleasesWhenItsJobReturns() {
        shop().run(context -> {
            LockingModule locking = context.getBean(LockingModule.class);
            locking.execute("prod_123", lock -> null);
            locking.acquire("prod_123", LockOptions.defaults().owner("next"));
        });
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
