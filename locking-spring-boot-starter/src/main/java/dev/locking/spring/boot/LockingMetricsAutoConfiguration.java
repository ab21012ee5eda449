package dev.locking.spring.boot;

import dev.locking.core.LockingModule;
import dev.locking.micrometer.LockingMetrics;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The meters of {@link LockingMetrics}. Spring Boot binds every {@code MeterBinder} bean to the
 * application's {@code MeterRegistry}, in both lines; without a registry the bean stays unbound.
 */
@AutoConfiguration(after = LockingAutoConfiguration.class)
@ConditionalOnClass(name = "io.micrometer.core.instrument.binder.MeterBinder")
@ConditionalOnBean(LockingModule.class)
public class LockingMetricsAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    public LockingMetrics lockingMetrics(LockingModule module) {
        return new LockingMetrics(module);
    }
}
