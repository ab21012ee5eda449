package dev.locking.examples.boot;

import dev.locking.core.RunOncePerTick;
import java.time.Duration;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/** Every instance's scheduler fires it; one instance per tick runs it. */
@Component
class StockReport {
    private final RunOncePerTick runOncePerTick;
    private final JdbcTemplate jdbc;

    StockReport(RunOncePerTick runOncePerTick, JdbcTemplate jdbc) {
        this.runOncePerTick = runOncePerTick;
        this.jdbc = jdbc;
    }

    @Scheduled(fixedRateString = "${shop.report-interval}")
    void report() {
        runOncePerTick.run(
                "stock-report",
                Duration.ofSeconds(30),
                Duration.ofMillis(500),
                () -> jdbc.update("INSERT INTO report_runs DEFAULT VALUES"));
    }
}
