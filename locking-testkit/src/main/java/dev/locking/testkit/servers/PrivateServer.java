package dev.locking.testkit.servers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@link PrivatePostgres} and {@link PrivateRedis} share: a temporary directory and a free
 * loopback port of their own, one server process that logs into that directory and is killed with
 * everything it started, and the directory removed on {@link #close()} or when the JVM exits.
 */
abstract class PrivateServer implements PrivateStore {
    private final Logger log = LoggerFactory.getLogger(getClass());
    private final String name;
    private final Path dir;
    private final String logFile;
    private final int port;
    private final FakeClock clock;
    private Process process;

    /**
     * @param name what messages call the server, e.g. "PostgreSQL"
     * @param port the loopback port it listens on
     * @param logFile the file in {@code dir} the process writes its output to
     * @param clock the fake clock it runs on, or null for the real one
     */
    PrivateServer(String name, Path dir, int port, String logFile, FakeClock clock) {
        this.name = name;
        this.dir = dir;
        this.logFile = logFile;
        this.port = port;
        this.clock = clock;
    }

    /** A new temporary directory for one server. */
    static Path temporaryDirectory(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Brings a new server up with {@code start}: closed when that fails, and when the JVM exits
     * before the test closes it.
     */
    static <S extends PrivateServer> S started(S server, Consumer<? super S> start) {
        server.closeOnExit();
        try {
            start.accept(server);
            return server;
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** Closes this server when the JVM exits, in case the test does not. */
    final void closeOnExit() {
        String hookName = "private-" + name.toLowerCase(Locale.ROOT) + "-" + port + "-stop";
        Runtime.getRuntime().addShutdownHook(new Thread(this::close, hookName));
    }

    /** Starts the server process and waits up to {@code limit} until it is {@code ready}. */
    final synchronized void startProcess(
            List<String> command,
            Map<String, String> environment,
            String howToInstall,
            BooleanSupplier ready,
            Duration limit) {
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(
                        ProcessBuilder.Redirect.appendTo(dir.resolve(logFile).toFile()));
        builder.environment().putAll(environment);
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new IllegalStateException("Could not start " + name + ". " + howToInstall, e);
        }
        Processes.waitUntil(ready, limit, "the private " + name + " on port " + port + " (log: " + log() + ")");
        log.info("Private {} on 127.0.0.1:{}{}", name, port, clock == null ? "" : " on a fake clock");
    }

    /** The fake clock the server runs on, or null for the real one. */
    final FakeClock clockOrNull() {
        return clock;
    }

    /** The end of the server's log, for error messages. */
    final String log() {
        try {
            String text = Files.readString(dir.resolve(logFile));
            return text.length() > 1500 ? text.substring(text.length() - 1500) : text;
        } catch (IOException e) {
            return "(none)";
        }
    }

    @Override
    public String host() {
        return "127.0.0.1";
    }

    @Override
    public int port() {
        return port;
    }

    /** The clock this server runs on; fails when it was started without one. */
    @Override
    public FakeClock clock() {
        if (clock == null) throw new IllegalStateException("This " + name + " was started without a fake clock");
        return clock;
    }

    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** SIGKILL to the server and every process it started: a crash of the server host, as far as clients see. */
    public synchronized void kill() {
        if (process != null) Processes.killTree(process.toHandle());
    }

    /** Turns this replica into a primary and waits until it takes writes. */
    public abstract void promote();

    /** The directory that holds the server's files and its log; deleted on {@link #close()}. */
    public Path directory() {
        return dir;
    }

    /** Kills the server and deletes its directory. */
    @Override
    public synchronized void close() {
        kill();
        Processes.deleteTree(dir);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "{127.0.0.1:" + port
                + (clock == null ? "" : ", fake clock " + clock.offset()) + "}";
    }
}
