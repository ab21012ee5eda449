package dev.locking.testkit;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigUtil;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.ProviderContext;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import javax.sql.DataSource;

/**
 * What core hands a provider factory, for tests that drive a provider through the SPI alone: the
 * options laid over the defaults the provider's jar ships, as core lays them, and a log of the keys
 * the provider reported released.
 */
public class TestProviderContext implements ProviderContext {
    /** Where the options claim to come from, as the first registration of a configuration. */
    public static final String PATH = "locking.providers[0].options";

    /** Every key the provider reported released, in order. */
    public final LinkedBlockingQueue<String> released = new LinkedBlockingQueue<>();

    /** A grant the provider made on a waiter's behalf, as {@link #granted} received it. */
    public record HandedGrant(String waiterId, AcquireResult.Acquired grant) {}

    /** Every grant the provider handed over, in order. */
    public final LinkedBlockingQueue<HandedGrant> grants = new LinkedBlockingQueue<>();

    /**
     * What {@link #granted} answers: true plays a parked waiter that takes the grant, false (the
     * default) one that is not in this process.
     */
    public volatile boolean takeGrants;

    private final String registrationId;
    private final Map<String, Object> options;
    private final DataSource dataSource;

    /**
     * @param identifier the provider's identifier, whose {@code locking.provider-defaults} apply
     * @param dataSource the application's DataSource to hand over, or null
     */
    public TestProviderContext(
            String identifier, String registrationId, Map<String, Object> options, DataSource dataSource) {
        this.registrationId = registrationId;
        this.options = ConfigFactory.parseMap(options)
                .withFallback(ConfigFactory.defaultReference()
                        .getConfig(ConfigUtil.joinPath("locking", "provider-defaults", identifier)))
                .resolve()
                .root()
                .unwrapped();
        this.dataSource = dataSource;
    }

    @Override
    public String registrationId() {
        return registrationId;
    }

    @Override
    public Map<String, Object> options() {
        return options;
    }

    @Override
    public String optionsPath() {
        return PATH;
    }

    @Override
    public Optional<DataSource> dataSource() {
        return Optional.ofNullable(dataSource);
    }

    @Override
    public void keyReleased(String key) {
        released.add(key);
    }

    @Override
    public boolean granted(String waiterId, AcquireResult.Acquired grant) {
        grants.add(new HandedGrant(waiterId, grant));
        return takeGrants;
    }
}
