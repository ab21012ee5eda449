package dev.locking.examples.boot;

import dev.locking.spring.boot.LockedTick;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/** Every instance's scheduler fires it; one instance per tick runs it. */
@Component
class StockReport {
    private final JdbcTemplate jdbc;

    StockReport(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    @Scheduled(fixedRateString = "${shop.report-interval}")
    @LockedTick(name = "stock-report", lockAtMostFor = "30s", lockAtLeastFor = "500ms")
    void report() {
        jdbc.update("INSERT INTO report_runs DEFAULT VALUES");
    }
}
