package dev.locking.postgres;

import java.util.Map;

/**
 * The fault contract in session mode, on private clusters ({@link PrivatePostgresFaultContract}).
 * A lock is a lock of its server session here: it ends with its connection (the holder is told),
 * its lease is measured by the holder's process, and its fencing token is read from the server's
 * clock (docs/postgres.md#modes).
 */
class PostgresSessionFaultContractTest extends PrivatePostgresFaultContract {

    @Override
    Map<String, Object> options() {
        return Map.of("mode", "session");
    }

    @Override
    protected boolean locksSurviveConnectionLoss() {
        return false;
    }

    @Override
    protected boolean leasesByStoreClock() {
        return false;
    }

    @Override
    protected boolean tokensSurviveStoreClockStepBack() {
        return false;
    }
}
