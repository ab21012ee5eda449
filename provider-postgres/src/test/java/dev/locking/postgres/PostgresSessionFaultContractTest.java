package dev.locking.postgres;

import dev.locking.core.LockingModule;
import dev.locking.testkit.LockingFaultContract;
import dev.locking.testkit.servers.PostgresReplicaPair;
import dev.locking.testkit.servers.PrivatePostgres;
import dev.locking.testkit.servers.PrivateStore;
import dev.locking.testkit.servers.ReplicatedStore;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The fault contract in session mode, on private clusters as {@link PostgresFaultContractTest}.
 * A lock is a lock of its server session here: it ends with its connection (the holder is told),
 * its lease is measured by the holder's process, and its fencing token is read from the server's
 * clock (docs/postgres.md#modes).
 */
class PostgresSessionFaultContractTest extends LockingFaultContract {
    private static PrivatePostgres store;

    @BeforeAll
    static void startStore() {
        store = PrivatePostgres.start();
    }

    @AfterAll
    static void stopStore() {
        if (store != null) store.close();
    }

    @Override
    protected InetSocketAddress storeAddress() {
        return new InetSocketAddress(store.host(), store.port());
    }

    @Override
    protected LockingModule newModule(String host, int port) {
        Map<String, Object> options = new HashMap<>();
        options.put("url", "jdbc:postgresql://" + host + ":" + port + "/postgres");
        options.put("user", "postgres");
        options.put("mode", "session");
        options.put("pool", Map.of("connectionTimeout", 1000, "dataSource", Map.of("connectTimeout", "1")));
        LockingModule module = TestModules.module(options);
        try {
            module.migrate();
        } catch (RuntimeException e) {
            module.close();
            throw e;
        }
        return module;
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

    @Override
    protected ReplicatedStore newReplicatedStore() {
        return PostgresReplicaPair.start();
    }

    @Override
    protected PrivateStore newStoreOnFakeClock() {
        return PrivatePostgres.start(Duration.ZERO);
    }
}
