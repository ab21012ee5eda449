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
 * The fault contract on private PostgreSQL clusters of the test's own (a primary for the network
 * faults, a primary with a lagging replica, one on a fake clock), so the shared server is never
 * broken. Modules use the provider's own defaults apart from a one-second connect timeout (the
 * provider must bound a call on a half-open connection by itself) and the mode's {@link #options()}.
 */
abstract class PrivatePostgresFaultContract extends LockingFaultContract {
    private static PrivatePostgres store;

    @BeforeAll
    static void startStore() {
        store = PrivatePostgres.start();
    }

    @AfterAll
    static void stopStore() {
        if (store != null) store.close();
    }

    /** The provider options of the mode under test, beside the address. */
    abstract Map<String, Object> options();

    @Override
    protected InetSocketAddress storeAddress() {
        return new InetSocketAddress(store.host(), store.port());
    }

    @Override
    protected LockingModule newModule(String host, int port) {
        Map<String, Object> options = new HashMap<>(options());
        options.put("url", "jdbc:postgresql://" + host + ":" + port + "/postgres");
        options.put("user", "postgres");
        // Connecting through a black hole fails within a second; everything else is the default.
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
    protected ReplicatedStore newReplicatedStore() {
        return PostgresReplicaPair.start();
    }

    @Override
    protected PrivateStore newStoreOnFakeClock() {
        return PrivatePostgres.start(Duration.ZERO);
    }
}
