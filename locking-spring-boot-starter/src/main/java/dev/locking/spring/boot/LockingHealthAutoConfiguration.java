package dev.locking.spring.boot;

import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.CompositeHealthContributor;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthContributor;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * Spring Boot 4: the health contributor {@code locking} ({@code /actuator/health} shows {@code
 * components.locking}), one component per registration, named by its id.
 */
@AutoConfiguration(after = LockingAutoConfiguration.class)
@ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
@ConditionalOnBean(LockingModule.class)
@ConditionalOnEnabledHealthIndicator("locking")
public class LockingHealthAutoConfiguration {

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
