package dev.locking.spring.boot;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.api.LockingService;
import dev.locking.testkit.servers.PostgresServer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.config.DestructionAwareBeanPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Lazy;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;

/**
 * The order in which the context closes the module and the beans around it: jobs under way get the
 * module's drain while their executor still runs them and their DataSource is still open.
 */
class ShutdownOrderTest {
    static final List<String> destroyed = new CopyOnWriteArrayList<>();
    static final Set<String> watched = Set.of(
            "checkout", "lockingRunOncePerTickClosing", "lockingModule", "applicationTaskExecutor", "dataSource");

    /** Records the beans of {@link #watched} as the context destroys them. */
    static class DestructionRecorder implements DestructionAwareBeanPostProcessor {
        @Override
        public void postProcessBeforeDestruction(Object bean, String beanName) {
            if (watched.contains(beanName)) destroyed.add(beanName);
        }

        @Override
        public boolean requiresDestruction(Object bean) {
            return true;
        }
    }

    /** An application bean that uses the lock service. */
    record Checkout(LockingService locking) {}

    @Configuration(proxyBeanMethods = false)
    static class Application {
        @Bean
        static DestructionRecorder destructionRecorder() {
            return new DestructionRecorder();
        }

        /** Lazy: made after the module, so without the declared order it would be destroyed before it. */
        @Bean
        @Lazy
        ThreadPoolTaskExecutor applicationTaskExecutor() {
            return new ThreadPoolTaskExecutor();
        }

        @Bean
        Checkout checkout(LockingService locking) {
            return new Checkout(locking);
        }
    }

    private static int at(String bean) {
        int index = destroyed.indexOf(bean);
        assertTrue(index >= 0, bean + " destroyed: " + destroyed);
        return index;
    }

    @Test
    void theModuleClosesAfterItsUsersAndBeforeTheApplicationsExecutorsAndDataSource() {
        PostgresServer pg = PostgresServer.shared();
        destroyed.clear();
        new ApplicationContextRunner()
                .withUserConfiguration(Application.class)
                .withConfiguration(
                        AutoConfigurations.of(DataSourceAutoConfiguration.class, LockingAutoConfiguration.class))
                .withPropertyValues(
                        "spring.datasource.url=" + pg.jdbcUrl(),
                        "spring.datasource.username=" + pg.user(),
                        // The store does not use the DataSource: the jobs under way may, all the same.
                        "locking.providers[0].resolve=in-memory")
                .run(context -> {
                    context.getBean("applicationTaskExecutor");
                    context.getBean("dataSource");
                });

        assertTrue(at("checkout") < at("lockingModule"), destroyed.toString());
        assertTrue(at("lockingRunOncePerTickClosing") < at("lockingModule"), destroyed.toString());
        assertTrue(at("lockingModule") < at("applicationTaskExecutor"), destroyed.toString());
        assertTrue(at("lockingModule") < at("dataSource"), destroyed.toString());
    }
}
