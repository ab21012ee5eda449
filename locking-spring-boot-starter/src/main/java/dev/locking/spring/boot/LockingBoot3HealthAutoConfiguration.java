package dev.locking.spring.boot;

import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.actuate.health.CompositeHealthContributor;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthContributor;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingClass;
import org.springframework.context.annotation.Bean;

/**
 * Spring Boot 3.5: the same health contributor {@code locking} as {@link
 * LockingHealthAutoConfiguration}, on 3.5's health API ({@code org.springframework.boot.actuate.health},
 * which Boot 4 moved to {@code org.springframework.boot.health.contributor}). Boot's own condition
 * switches it: {@code management.health.locking.enabled}, else {@code
 * management.health.defaults.enabled}, else on.
 */
@AutoConfiguration(after = LockingAutoConfiguration.class)
@ConditionalOnClass(
        name = {
            "org.springframework.boot.actuate.health.HealthIndicator",
            "org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator"
        })
@ConditionalOnMissingClass("org.springframework.boot.health.contributor.HealthIndicator")
@ConditionalOnBean(LockingModule.class)
@ConditionalOnEnabledHealthIndicator("locking")
public class LockingBoot3HealthAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "lockingHealthContributor")
    public CompositeHealthContributor lockingHealthContributor(LockingModule module) {
        LockingHealthCheck check = new LockingHealthCheck(module);
        Map<String, HealthContributor> components = new LinkedHashMap<>();
        for (ProviderInfo registration : check.registrations())
            components.put(registration.id(), (HealthIndicator) () -> health(check.check(registration)));
        return CompositeHealthContributor.fromMap(components);
    }

    private static Health health(LockingHealthCheck.Result result) {
        return (result.up() ? Health.up() : Health.down())
                .withDetails(result.details())
                .build();
    }
}
