package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockingConfigurationException;
import org.junit.jupiter.api.Test;

/** The module-level {@code locking} keys: each value checked, before anything opens. */
class ConfigurationValidationTest {

    private static LockingConfigurationException configError(String hocon) {
        return assertThrows(
                LockingConfigurationException.class, () -> LockingModule.create(ConfigFactory.parseString(hocon)));
    }

    @Test
    void anExecuteExpirePastTheMaximumIsAConfigurationErrorNamingTheKey() {
        LockingConfigurationException e = configError("locking.execute.expire = 4000d");
        assertTrue(e.getMessage().contains("locking.execute.expire must be at most 3650 days"), e.getMessage());
    }
}
