package dev.locking.postgres;

import java.util.Map;

/** {@link PostgresStormTest} in session mode: every caller times out in time, and the key is free after. */
class PostgresSessionStormTest extends PostgresStormTest {
    @Override
    void configure(Map<String, Object> options) {
        options.put("mode", "session");
    }
}
