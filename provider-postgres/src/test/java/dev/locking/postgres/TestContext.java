package dev.locking.postgres;

import com.typesafe.config.ConfigFactory;
import dev.locking.spi.ProviderContext;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.sql.DataSource;

/** What core would hand the factory: the options over the jar's reference.conf defaults. */
final class TestContext implements ProviderContext {
    static final String PATH = "locking.providers[0].options";

    final Map<String, Object> options;
    final DataSource dataSource;
    final List<String> released = new CopyOnWriteArrayList<>();

    TestContext(Map<String, Object> options, DataSource dataSource) {
        this.options = ConfigFactory.parseMap(options)
                .withFallback(ConfigFactory.defaultReference().getConfig("locking.provider-defaults.locking-postgres"))
                .root()
                .unwrapped();
        this.dataSource = dataSource;
    }

    TestContext(Map<String, Object> options) {
        this(options, null);
    }

    @Override
    public String registrationId() {
        return "pg-test";
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
}
