package dev.locking.redis;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class JedisSupportTest {

    @Test
    void theJedisOnTheClasspathIsAcceptedAndItsVersionIsKnown() {
        assertNotNull(JedisSupport.version(), "the Jedis jar's pom.properties names its version");
        assertFalse(JedisSupport.older(JedisSupport.version(), JedisSupport.OLDEST), JedisSupport.version());
        assertDoesNotThrow(JedisSupport::check);
    }

    @Test
    void theProvidersOwnBuildRunsOnTheOldestJedisItDeclares() {
        // provider-redis's pom asks for the oldest supported Jedis; locking-compat runs the newest.
        assertEquals(JedisSupport.OLDEST, JedisSupport.version());
    }

    @Test
    void versionsBeforeTheOldestSupportedAreRecognisedAsOlder() {
        assertTrue(JedisSupport.older("5.2.0", "6.0.0"));
        assertTrue(JedisSupport.older("4.4.8", "6.0.0"));
        assertTrue(JedisSupport.older("6.0.0-beta2", "6.0.1"));
        assertFalse(JedisSupport.older("6.0.0", "6.0.0"));
        assertFalse(JedisSupport.older("6.0", "6.0.0"));
        assertFalse(JedisSupport.older("7.0.0-RC1", "6.0.0"));
        assertFalse(JedisSupport.older("8.0.2", "6.0.0"));
        assertFalse(JedisSupport.older("10.1.0", "6.0.0"));
    }
}
