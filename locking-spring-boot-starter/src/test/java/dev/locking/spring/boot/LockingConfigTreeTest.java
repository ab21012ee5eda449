package dev.locking.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockingConfigurationException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;

/** The {@code locking} properties as Spring binds them from its sources, turned into the tree core reads. */
class LockingConfigTreeTest {

    /** An environment of an application.yml (as properties) under environment variables. */
    private static StandardEnvironment environment(Map<String, Object> applicationYml, Map<String, Object> variables) {
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().remove(StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME);
        environment.getPropertySources().remove(StandardEnvironment.SYSTEM_PROPERTIES_PROPERTY_SOURCE_NAME);
        environment.getPropertySources().addLast(new MapPropertySource("application.yml", applicationYml));
        environment
                .getPropertySources()
                .addFirst(new SystemEnvironmentPropertySource(
                        StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, variables));
        ConfigurationPropertySources.attach(environment);
        return environment;
    }

    private static Config tree(StandardEnvironment environment) {
        LockingProperties properties =
                Binder.get(environment).bind("locking", LockingProperties.class).get();
        return LockingConfigTree.of(properties, ConfigFactory.load());
    }

    @Test
    void environmentVariablesSetOptionKeysThatHaveDashesOrCapitals() {
        Map<String, Object> variables = new LinkedHashMap<>();
        variables.put("LOCKING_PROVIDERS_0_RESOLVE", "locking-postgres");
        variables.put("LOCKING_PROVIDERS_0_ID", "pg");
        variables.put("LOCKING_PROVIDERS_0_OPTIONS_URL", "jdbc:postgresql://db/app");
        variables.put("LOCKING_PROVIDERS_0_OPTIONS_STATEMENTTIMEOUT", "9s");
        variables.put("LOCKING_PROVIDERS_0_OPTIONS_POOL_MAXIMUMPOOLSIZE", "9");
        variables.put("LOCKING_PROVIDERS_1_RESOLVE", "locking-redis");
        variables.put("LOCKING_PROVIDERS_1_OPTIONS_CLUSTERNODES_0", "10.0.0.1:6379");
        variables.put("LOCKING_PROVIDERS_1_OPTIONS_CLUSTERNODES_1", "10.0.0.2:6379");
        variables.put("LOCKING_PROVIDERS_1_OPTIONS_POOL_MAXTOTAL", "32");

        List<? extends Config> providers =
                tree(environment(Map.of(), variables)).getConfigList("locking.providers");

        Config pg = providers.get(0).getConfig("options");
        assertEquals("jdbc:postgresql://db/app", pg.getString("url"));
        assertEquals(9, pg.getDuration("statement-timeout").toSeconds());
        assertEquals(9, pg.getInt("pool.maximumPoolSize"));
        Config redis = providers.get(1).getConfig("options");
        assertEquals(List.of("10.0.0.1:6379", "10.0.0.2:6379"), redis.getStringList("cluster-nodes"));
        assertEquals(32, redis.getInt("pool.max-total"));
    }

    @Test
    void relaxedSpellingsInApplicationYmlReachTheProviderAsItSpellsItsKeys() {
        Map<String, Object> yml = new LinkedHashMap<>();
        yml.put("locking.providers[0].resolve", "locking-postgres");
        yml.put("locking.providers[0].options.statement_timeout", "4s");
        yml.put("locking.providers[0].options.listenUrl", "jdbc:postgresql://db/app");
        yml.put("locking.providers[0].options.pool.maximumPoolSize", "3");
        yml.put("locking.providers[0].options.pool.leakDetectionThreshold", "2000");

        Config options = tree(environment(yml, Map.of()))
                .getConfigList("locking.providers")
                .get(0)
                .getConfig("options");

        assertEquals(4, options.getDuration("statement-timeout").toSeconds());
        assertEquals("jdbc:postgresql://db/app", options.getString("listen-url"));
        assertEquals(3, options.getInt("pool.maximumPoolSize"));
        assertEquals(2000, options.getInt("pool.leakDetectionThreshold"), "a key the defaults do not name stays");
    }

    @Test
    void anEnvironmentVariableForOneFieldReplacesTheListAndTheErrorSaysSo() {
        Map<String, Object> yml = new LinkedHashMap<>();
        yml.put("locking.providers[0].resolve", "locking-postgres");
        yml.put("locking.providers[0].id", "pg");
        LockingConfigurationException e = assertThrows(
                LockingConfigurationException.class,
                () -> tree(environment(yml, Map.of("LOCKING_PROVIDERS_0_OPTIONS_URL", "jdbc:postgresql://prod/app"))));
        assertTrue(e.getMessage().contains("locking.providers[0].resolve is missing"), e.getMessage());
        assertTrue(e.getMessage().contains("LOCKING_PROVIDERS_0_OPTIONS_URL"), e.getMessage());
        assertTrue(e.getMessage().contains("placeholder"), e.getMessage());
    }

    @Test
    void aPlaceholderInTheListTakesItsValueFromTheEnvironment() {
        Map<String, Object> yml = new LinkedHashMap<>();
        yml.put("locking.providers[0].resolve", "locking-postgres");
        yml.put("locking.providers[0].id", "pg");
        yml.put("locking.providers[0].options.url", "${LOCKING_PG_URL}");
        Config options = tree(environment(yml, Map.of("LOCKING_PG_URL", "jdbc:postgresql://prod/app")))
                .getConfigList("locking.providers")
                .get(0)
                .getConfig("options");
        assertEquals("jdbc:postgresql://prod/app", options.getString("url"));
    }

    @Test
    void theStartFailsWithThatErrorWhenTheListWasReplaced() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LockingAutoConfiguration.class))
                .withPropertyValues("locking.providers[0].id=only-an-id")
                .run(context -> {
                    StringBuilder all = new StringBuilder();
                    for (Throwable t = context.getStartupFailure(); t != null; t = t.getCause())
                        all.append(t.getMessage()).append('\n');
                    assertTrue(all.toString().contains("locking.providers[0].resolve is missing"), all.toString());
                });
    }
}
