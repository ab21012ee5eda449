package dev.locking.redis;

import com.typesafe.config.ConfigFactory;
import dev.locking.spi.ProviderContext;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import javax.sql.DataSource;

/** What core would hand the factory: the options over this jar's reference.conf, and a release log. */
final class TestContext implements ProviderContext {
    static final String PATH = "locking.providers[0].options";

    final LinkedBlockingQueue<String> released = new LinkedBlockingQueue<>();
    private final Map<String, Object> options;

    TestContext(Map<String, Object> options) {
        this.options = ConfigFactory.parseMap(options)
                .withFallback(ConfigFactory.defaultReference().getConfig("locking.provider-defaults.locking-redis"))
                .resolve()
                .root()
                .unwrapped();
    }

    @Override
    public String registrationId() {
        return "redis-lock";
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
        return Optional.empty();
    }

    @Override
    public void keyReleased(String key) {
        released.add(key);
    }

    RedisLockingProvider open() {
        return (RedisLockingProvider) new RedisLockingProviderFactory().create(this);
    }
}
