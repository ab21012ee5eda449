package dev.locking.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The suites ran on the versions the set names, and on one copy of each: a property that did not
 * reach the dependency tree would otherwise test the wrong version and still pass.
 */
class ClasspathVersionsTest {

    @Test
    void theClasspathHoldsExactlyTheVersionsOfTheSet() throws IOException, ReflectiveOperationException {
        String set = System.getProperty("compat.set");
        assertNotNull(set, "run by Maven, which names the set's versions");
        assertVersion("redis.clients", "jedis", "compat.jedis");
        assertVersion("org.flywaydb", "flyway-core", "compat.flyway");
        assertVersion("org.flywaydb", "flyway-database-postgresql", "compat.flyway");
        assertVersion("com.zaxxer", "HikariCP", "compat.hikaricp");
        // pgjdbc's jar has no Maven metadata; its driver knows its version (read at run time: the
        // constant would be compiled into this class).
        assertEquals(
                System.getProperty("compat.postgresql"),
                org.postgresql.util.DriverInfo.class.getField("DRIVER_VERSION").get(null),
                "pgjdbc");
        assertVersion("org.slf4j", "slf4j-api", "compat.slf4j");
    }

    private static void assertVersion(String group, String artifact, String property) throws IOException {
        String expected = System.getProperty(property);
        List<String> found = new ArrayList<>();
        for (URL url : Collections.list(ClasspathVersionsTest.class
                .getClassLoader()
                .getResources("META-INF/maven/" + group + "/" + artifact + "/pom.properties"))) {
            try (InputStream in = url.openStream()) {
                Properties properties = new Properties();
                properties.load(in);
                found.add(properties.getProperty("version"));
            }
        }
        assertEquals(List.of(expected), found, group + ":" + artifact + " on the test classpath");
    }
}
