package dev.locking.postgres;

import dev.locking.testkit.TestProviderContext;
import java.util.Map;
import javax.sql.DataSource;

/** The testkit's provider context for this provider. */
final class TestContext extends TestProviderContext {
    TestContext(Map<String, Object> options, DataSource dataSource) {
        super("locking-postgres", "pg-test", options, dataSource);
    }

    TestContext(Map<String, Object> options) {
        this(options, null);
    }
}
