package dev.locking.testkit.servers;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The order every server fixture follows: an address from the environment, the local default
 * port, Testcontainers when a Docker engine answers, and an embedded server last. In CI ({@code
 * CI=true}) the embedded fallback is refused: CI must test the servers it was given, so a missing
 * one fails the run with a message saying how to start it. A test never skips for a missing server.
 */
public final class ServerDiscovery {
    private static final Logger log = LoggerFactory.getLogger(ServerDiscovery.class);

    private ServerDiscovery() {}

    /** The value of an environment variable (or system property of the same name), if set and not blank. */
    public static Optional<String> fromEnvironment(String variable) {
        String value = System.getProperty(variable, System.getenv(variable));
        return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
    }

    /** True when something accepts TCP connections on {@code host:port} within half a second. */
    public static boolean listening(String host, int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * True when {@code LOCKING_TEST_SERVERS=embedded}: skip the environment, the local ports and
     * Docker, and start embedded servers, to check on any machine what a laptop with nothing
     * installed would run.
     */
    public static boolean embeddedForced() {
        return fromEnvironment("LOCKING_TEST_SERVERS")
                .map("embedded"::equalsIgnoreCase)
                .orElse(false);
    }

    /** True when running in CI ({@code CI=true}). */
    public static boolean inCi() {
        return fromEnvironment("CI").map(v -> !v.equalsIgnoreCase("false")).orElse(false);
    }

    /** True when Testcontainers finds a Docker engine. Never throws. */
    public static boolean dockerAvailable() {
        if (fromEnvironment("LOCKING_TEST_NO_DOCKER").isPresent()) return false;
        try {
            return org.testcontainers.DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            log.debug("No Docker engine for Testcontainers: {}", e.toString());
            return false;
        }
    }

    /**
     * Fails when the embedded last resort is not allowed (CI), with the way to start the server.
     *
     * @param what e.g. "PostgreSQL"
     * @param howToStart the command or variable that provides one
     */
    public static void requireEmbeddedAllowed(String what, String howToStart) {
        if (inCi())
            throw new IllegalStateException("No " + what + " server for the tests, and CI=true forbids the embedded"
                    + " fallback. " + howToStart);
        log.warn("No {} server found; starting an embedded one for the tests. {}", what, howToStart);
    }
}
