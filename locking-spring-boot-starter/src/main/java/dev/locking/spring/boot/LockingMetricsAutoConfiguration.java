package dev.locking.spring.boot;

import dev.locking.core.LockingModule;
import dev.locking.micrometer.LockingMetrics;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The meters of {@link LockingMetrics}, when the application has a {@code MeterRegistry} bean.
 * Spring Boot binds every {@code MeterBinder} bean to it, in both lines.
 *
 * <p>As Boot's own binders (its JVM meters), it runs after Boot's metrics auto-configuration and
 * its composite registry, by which time every registry Boot makes (an exporter's, or the simple
 * one) is defined, so {@code @ConditionalOnBean} sees them. The class names of both lines are
 * strings: only one line is on a class path.
 */
@AutoConfiguration(
        after = LockingAutoConfiguration.class,
        afterName = {
            "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
            "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
            "org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration",
            "org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration"
        })
@ConditionalOnClass(name = "io.micrometer.core.instrument.MeterRegistry")
@ConditionalOnBean(type = {"io.micrometer.core.instrument.MeterRegistry"})
public class LockingMetricsAutoConfiguration {

    @Bean
    @ConditionalOnBean(LockingModule.class)
    @ConditionalOnMissingBean
    public LockingMetrics lockingMetrics(LockingModule module) {
        return new LockingMetrics(module);
    }
}
