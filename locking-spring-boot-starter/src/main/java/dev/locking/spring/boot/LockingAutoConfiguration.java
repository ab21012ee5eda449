package dev.locking.spring.boot;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.locking.api.LockingConfigurationException;
import dev.locking.api.LockingService;
import dev.locking.core.LockingModule;
import dev.locking.core.ReleaseDeferral;
import dev.locking.core.RunOncePerTick;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.sql.init.dependency.DependsOnDatabaseInitialization;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Role;

/**
 * The {@code LockingModule} bean, from the {@code locking.*} properties over application.conf.
 *
 * <p>Runs after Spring Boot's DataSource and Flyway auto-configuration (Boot 4 and Boot 3.5 class
 * names, named as strings since only one line is on a classpath), and the module bean waits for the
 * application's database initialisation ({@code @DependsOnDatabaseInitialization}), so its Flyway
 * has migrated before the module starts and, with {@code migrate-on-start}, migrates its own schema.
 */
@AutoConfiguration(
        afterName = {
            "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
            "org.springframework.boot.flyway.autoconfigure.FlywayAutoConfiguration",
            "org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration",
            "org.springframework.boot.autoconfigure.flyway.FlywayAutoConfiguration"
        })
@ConditionalOnClass(LockingModule.class)
@EnableConfigurationProperties(LockingProperties.class)
public class LockingAutoConfiguration {
    static final String MODULE_BEAN = "lockingModule";
    private static final String POSTGRES = "locking-postgres";
    private static final String SHUTDOWN_TIMEOUT = "locking.shutdown-timeout";
    /** The default of core's locking.shutdown-timeout, for a core whose reference.conf lacks the key. */
    private static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

    /**
     * Closed when the context closes: after the web server stopped taking requests (graceful
     * shutdown included: it is a lifecycle bean, stopped before singletons are destroyed), after the
     * beans that use it and {@link RunOncePerTick}, and before the application's DataSources and
     * executors (see {@link #closeBefore}).
     */
    @Bean(name = MODULE_BEAN, destroyMethod = "close")
    @ConditionalOnMissingBean(LockingService.class)
    @DependsOnDatabaseInitialization
    public LockingModule lockingModule(
            LockingProperties properties,
            ObjectProvider<DataSource> dataSources,
            ObjectProvider<ReleaseDeferral> releaseDeferral,
            ConfigurableListableBeanFactory beanFactory) {
        Config config = config(properties, beanFactory);
        LockingModule.Builder builder = LockingModule.builder().config(config);
        List<String> needDataSource = postgresRegistrationsWithoutUrl(config);
        if (!needDataSource.isEmpty()) {
            DataSource dataSource = dataSources.getIfUnique();
            if (dataSource == null) {
                List<String> names = List.of(beanFactory.getBeanNamesForType(DataSource.class, true, false));
                throw new LockingConfigurationException(List.of("locking-postgres registration(s) "
                        + needDataSource + " set no options.url, so they use the application's DataSource, but "
                        + (names.isEmpty()
                                ? "the application has no DataSource bean"
                                : "it has several " + names + " and none is @Primary")
                        + ": set locking.providers[i].options.url (with user and password), or mark one DataSource"
                        + " @Primary"));
            }
            needDataSource.forEach(id -> builder.dataSource(id, dataSource));
        }
        closeBefore(beanFactory, DataSource.class, Executor.class);
        ReleaseDeferral deferral = releaseDeferral.getIfUnique();
        if (deferral != null) builder.releaseDeferral(deferral);
        return builder.build();
    }

    /**
     * Spring destroys a bean's dependents before the bean, so the module, made a dependent of these,
     * closes before them. Its close lets the jobs under way end and release their keys
     * ({@code locking.shutdown-timeout}): the jobs' DataSource must still be open then, whether or
     * not a registration uses it, and the jobs' executors must still be running them. An executor
     * destroyed first interrupts its running tasks (unless the application made it await them),
     * cutting short the very jobs the close waits for; until its destruction it only refuses new
     * tasks (Spring stops that at the context's closed event), so closing the module first loses
     * nothing.
     */
    private static void closeBefore(ConfigurableListableBeanFactory beanFactory, Class<?>... types) {
        for (Class<?> type : types)
            for (String name : beanFactory.getBeanNamesForType(type, true, false))
                if (!name.equals(MODULE_BEAN)) beanFactory.registerDependentBean(name, MODULE_BEAN);
    }

    /** The configuration core reads: the {@code locking} properties over application.conf and reference.conf. */
    static Config config(LockingProperties properties, ConfigurableListableBeanFactory beanFactory) {
        ClassLoader classLoader = beanFactory.getBeanClassLoader() != null
                ? beanFactory.getBeanClassLoader()
                : LockingAutoConfiguration.class.getClassLoader();
        return LockingConfigTree.of(properties, ConfigFactory.load(classLoader));
    }

    /** Runs a {@code @Scheduled} job on one instance per tick; see {@link RunOncePerTick}. */
    @Bean
    @ConditionalOnMissingBean
    public RunOncePerTick runOncePerTick(LockingService locking) {
        return new RunOncePerTick(locking);
    }

    /**
     * Closes {@link RunOncePerTick} before the module: it depends on it, and so on the module, and
     * Spring destroys dependents first. Ticks that fire from then on are skipped, and a run under
     * way gets {@code locking.shutdown-timeout} to end and release its key while the module is open.
     */
    @Bean
    RunOncePerTickClosing lockingRunOncePerTickClosing(
            RunOncePerTick runOncePerTick, LockingProperties properties, ConfigurableListableBeanFactory beanFactory) {
        return new RunOncePerTickClosing(runOncePerTick, shutdownTimeout(config(properties, beanFactory)));
    }

    static Duration shutdownTimeout(Config config) {
        return config.hasPath(SHUTDOWN_TIMEOUT) ? config.getDuration(SHUTDOWN_TIMEOUT) : DEFAULT_SHUTDOWN_TIMEOUT;
    }

    record RunOncePerTickClosing(RunOncePerTick runOncePerTick, Duration drain) implements DisposableBean {
        @Override
        public void destroy() {
            runOncePerTick.close(drain);
        }
    }

    /**
     * Puts {@link LockedTick} methods under {@link RunOncePerTick}. Static: a post-processor is
     * made before every other bean, and must not pull the module in with it.
     */
    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    static LockedTickPostProcessor lockedTickPostProcessor() {
        return new LockedTickPostProcessor();
    }

    /** Releases the keys of an execute inside a Spring transaction after that transaction ends. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = "org.springframework.transaction.support.TransactionSynchronizationManager")
    @ConditionalOnProperty(prefix = "locking", name = "release-after-commit", matchIfMissing = true)
    static class ReleaseAfterCommitConfiguration {
        @Bean
        @ConditionalOnMissingBean(ReleaseDeferral.class)
        ReleaseDeferral lockingReleaseAfterCommit() {
            return new ReleaseAfterCommit();
        }
    }

    /** The ids of the locking-postgres registrations in {@code config} whose options set no url. */
    static List<String> postgresRegistrationsWithoutUrl(Config config) {
        List<String> ids = new ArrayList<>();
        if (!config.hasPath("locking.providers")) return ids;
        for (ConfigValue value : config.getList("locking.providers")) {
            if (value.valueType() != ConfigValueType.OBJECT) continue; // core reports it
            Config entry = ((ConfigObject) value).toConfig();
            if (!entry.hasPath("resolve") || !POSTGRES.equals(entry.getString("resolve"))) continue;
            String url = entry.hasPath("options.url") ? entry.getString("options.url") : "";
            if (url.isBlank()) ids.add(entry.hasPath("id") ? entry.getString("id") : POSTGRES);
        }
        return ids;
    }
}
