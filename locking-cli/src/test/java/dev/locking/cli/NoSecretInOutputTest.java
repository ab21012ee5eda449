package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.testkit.servers.PostgresServer;
import dev.locking.testkit.servers.RedisServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Every way to hand a provider a password, with servers that refuse, do not answer or do not
 * exist, run through the {@code locking} tool (with and without {@code --verbose}) and through
 * {@link LockingModule}: the password appears in no stdout, stderr, log line (logback at TRACE,
 * and the PostgreSQL driver's java.util.logging at FINEST), exception message, cause, {@code
 * toString} or stack trace. Forms a driver cannot use are refused (exit code 2) with a message that
 * shows none of it.
 */
@DisplayName("No password in any output, log line or exception")
class NoSecretInOutputTest {

    /** A password with characters that end URL parts ({@code # ;}) and would be cut by a masking that stops there. */
    static final String SPECIAL = "Sx7qA#Kv9wB;Zp3mC";
    /** A password a URL carries as it is. */
    static final String PLAIN = "Rq5tDWm2xEYh8nF";
    /** Pieces of the two: none may show anywhere, whole or in part. */
    static final List<String> PIECES = List.of("Sx7qA", "Kv9wB", "Zp3mC", "Rq5tD", "Wm2xE", "Yh8nF");

    @TempDir
    static Path dir;

    static int closed;
    static String schema;
    static Cli cli;
    /** Held so java.util.logging keeps the level (its loggers are weakly referenced). */
    static final java.util.logging.Logger DRIVER_LOG = java.util.logging.Logger.getLogger("org.postgresql");

    /**
     * One way to configure a password. {@code usable} is whether the driver can use the form: the
     * others must be refused as configuration errors (exit code 2).
     */
    record Form(String name, String options, String resolve, boolean usable) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Form> forms() {
        String pg = "jdbc:postgresql://127.0.0.1:" + closed + "/test";
        String redis = "127.0.0.1:" + closed;
        String fast = ", pool { connectionTimeout = 250 }";
        String redisFast = ", connect-timeout = 300ms, socket-timeout = 300ms";
        PostgresServer shared = PostgresServer.shared();
        String reachable = shared.jdbcUrl() + (shared.jdbcUrl().contains("?") ? "&" : "?");
        return Stream.of(
                new Form(
                        "pg user:password@host:port",
                        "url = \"jdbc:postgresql://app:" + SPECIAL + "@" + redis + "/test\"" + fast,
                        "locking-postgres",
                        false),
                new Form(
                        "pg user:password@host",
                        "url = \"jdbc:postgresql://app:" + PLAIN + "@127.0.0.1/test\"" + fast,
                        "locking-postgres",
                        false),
                new Form(
                        "pg ?password= (closed port)",
                        "url = \"" + pg + "?user=app&password=" + SPECIAL + "&ssl=false\"" + fast,
                        "locking-postgres",
                        true),
                new Form(
                        "pg ?password= (unknown host)",
                        "url = \"jdbc:postgresql://no-such-host.invalid/test?password=" + PLAIN + "\"" + fast,
                        "locking-postgres",
                        true),
                new Form(
                        "pg ?password= (reachable, trust)",
                        "url = \"" + reachable + "password=" + SPECIAL + "\", user = \"" + shared.user()
                                + "\", schema = \"" + schema + "\"",
                        "locking-postgres",
                        true),
                new Form(
                        "pg password option",
                        "url = \"" + pg + "\", user = app, password = \"" + SPECIAL + "\"" + fast,
                        "locking-postgres",
                        true),
                new Form(
                        "pg password option as a list",
                        "url = \"" + pg + "\", password = [\"" + SPECIAL + "\", \"" + PLAIN + "\"]" + fast,
                        "locking-postgres",
                        false),
                new Form(
                        "pg listen-url ?password=",
                        "url = \"" + pg + "\", password = \"" + PLAIN + "\", listen-url = \"" + pg + "?password="
                                + PLAIN + "\"" + fast,
                        "locking-postgres",
                        true),
                new Form(
                        "pg pool dataSource.password",
                        "url = \"" + pg + "\", pool { connectionTimeout = 250," + " dataSource { password = \""
                                + SPECIAL + "\" } }",
                        "locking-postgres",
                        true),
                new Form(
                        "redis user:password@",
                        "url = \"redis://app:" + PLAIN + "@" + redis + "\"" + redisFast,
                        "locking-redis",
                        true),
                new Form(
                        ":password@",
                        "url = \"redis://:" + PLAIN + "@" + redis + "\"" + redisFast,
                        "locking-redis",
                        true),
                new Form(
                        "redis :password@ with # and ;",
                        "url = \"redis://:" + SPECIAL + "@" + redis + "\"" + redisFast,
                        "locking-redis",
                        false),
                new Form(
                        "redis password in the path",
                        "url = \"redis://" + redis + "/" + PLAIN + "\"" + redisFast,
                        "locking-redis",
                        false),
                new Form(
                        "redis password with a / (lands in the path)",
                        "url = \"redis://:Sx7qA/Kv9wB@" + redis + "\"" + redisFast,
                        "locking-redis",
                        false),
                new Form(
                        "redis password@ without user or colon",
                        "url = \"redis://" + PLAIN + "@" + redis + "\"" + redisFast,
                        "locking-redis",
                        false),
                new Form(
                        "redis cluster-nodes redis://:password@",
                        "cluster-nodes = [\"redis://:" + PLAIN + "@" + redis + "\"]" + redisFast,
                        "locking-redis",
                        false),
                new Form(
                        "redis cluster-nodes user:password@host:port",
                        "cluster-nodes = [\"app:" + PLAIN + "@" + redis + "\"]" + redisFast,
                        "locking-redis",
                        false),
                new Form(
                        "redis cluster-nodes as a string",
                        "cluster-nodes = \"redis://:" + PLAIN + "@" + redis + "\"" + redisFast,
                        "locking-redis",
                        false),
                new Form(
                        "redis cluster-nodes with password option",
                        "cluster-nodes = [\"" + redis + "\"], password = \"" + SPECIAL + "\"" + redisFast,
                        "locking-redis",
                        true),
                new Form(
                        "redis password option",
                        "url = \"redis://" + redis + "\", password = \"" + SPECIAL + "\"" + redisFast,
                        "locking-redis",
                        true),
                new Form(
                        "redis :password@ refused by the server",
                        "url = \"redis://:" + PLAIN + "@" + RedisServer.shared().host() + ":"
                                + RedisServer.shared().port() + "\"",
                        "locking-redis",
                        true),
                new Form(
                        "redis user:password@ refused by the server",
                        "url = \"redis://nobody-" + PLAIN.substring(0, 2) + ":" + PLAIN + "@"
                                + RedisServer.shared().host() + ":"
                                + RedisServer.shared().port() + "\"",
                        "locking-redis",
                        true));
    }

    @BeforeAll
    static void setUp() {
        closed = Ports.closed();
        schema = PostgresServer.shared().newSchema("cli_secrets");
        cli = new Cli(dir);
        if (!SLF4JBridgeHandler.isInstalled()) {
            SLF4JBridgeHandler.removeHandlersForRootLogger();
            SLF4JBridgeHandler.install();
        }
    }

    @AfterAll
    static void tearDown() {
        DRIVER_LOG.setLevel(null);
    }

    private static Path config(Form form) {
        return Stores.config(
                dir,
                "secret-" + UUID.randomUUID() + ".conf",
                "{ resolve = \"" + form.resolve() + "\", id = \"s\", is_default = true, options { " + form.options()
                        + " } }");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("forms")
    void theToolShowsNoPassword(Form form) {
        Path config = config(form);
        List<String> seen = new ArrayList<>();
        for (String[] args : List.of(
                new String[] {"providers"},
                new String[] {"providers", "--json"},
                new String[] {"acquire", "k-" + UUID.randomUUID(), "--expire", "5s"},
                new String[] {"acquire", "k-" + UUID.randomUUID(), "--expire", "5s", "--verbose"},
                new String[] {"acquire", "k-" + UUID.randomUUID(), "--expire", "5s", "--json"},
                new String[] {"locks", "--verbose"},
                new String[] {"migrate", "--verbose"})) {
            String[] all = Stream.concat(Stream.of(args), Stream.of("-c", config.toString()))
                    .toArray(String[]::new);
            Cli.Result r = cli.run(all);
            seen.add("locking " + String.join(" ", args) + "\n" + r);
            if (!form.usable())
                assertEquals(
                        2,
                        r.exitCode(),
                        () -> form + ": a form the driver cannot use is a" + " configuration error\n" + r);
        }
        assertNoSecret(form, seen);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("forms")
    void theLibraryLogsAndThrowsNoPassword(Form form) {
        Path config = config(form);
        List<String> seen = new ArrayList<>();
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Level before = root.getLevel();
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.setContext(context);
        logs.start();
        root.addAppender(logs);
        root.setLevel(Level.ALL); // java.util.logging's FINER and FINEST arrive as TRACE
        // Levels an earlier command of this JVM set (the CLI quiets dev.locking unless --verbose)
        // would hide the library's own lines: every logger inherits ALL while the test listens.
        java.util.Map<Logger, Level> quieted = new java.util.HashMap<>();
        for (Logger logger : context.getLoggerList())
            if (logger != root && logger.getLevel() != null) quieted.put(logger, logger.getLevel());
        quieted.keySet().forEach(logger -> logger.setLevel(null));
        DRIVER_LOG.setLevel(java.util.logging.Level.ALL);
        // A line through each route, so the test knows it hears both (not every form logs anything).
        LoggerFactory.getLogger(NoSecretInOutputTest.class).debug("canary");
        DRIVER_LOG.finest("driver canary");
        try {
            try (LockingModule module =
                    LockingModule.create(ConfigFactory.load(ConfigFactory.parseFile(config.toFile())))) {
                seen.add(String.valueOf(module));
                module.providers().forEach(p -> seen.add(p + " " + p.description() + " " + p.reason()));
                LockOptions options = LockOptions.defaults().expire(Duration.ofSeconds(5));
                for (Runnable call : List.<Runnable>of(
                        module::migrations,
                        () -> module.acquire("k-" + UUID.randomUUID(), options),
                        () -> module.locks(LockOptions.defaults(), 10))) {
                    try {
                        call.run();
                    } catch (RuntimeException e) {
                        seen.add(everything(e));
                    }
                }
            } catch (RuntimeException e) {
                seen.add(everything(e));
                if (form.usable()) throw e;
            }
        } finally {
            root.detachAppender(logs);
            root.setLevel(before);
            quieted.forEach(Logger::setLevel);
            DRIVER_LOG.setLevel(null);
        }
        List<String> heard =
                logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        assertTrue(
                heard.contains("canary") && heard.contains("driver canary"),
                "the appender does not hear logback at TRACE and java.util.logging at FINEST: " + heard);
        for (ILoggingEvent event : logs.list) {
            seen.add(event.getLoggerName() + " " + event.getLevel() + " " + event.getFormattedMessage() + " "
                    + java.util.Arrays.toString(event.getArgumentArray()));
            if (event.getThrowableProxy() != null) seen.add(ThrowableProxyUtil.asString(event.getThrowableProxy()));
        }
        assertNoSecret(form, seen);
    }

    /** Message, toString, causes and suppressed exceptions: the whole stack trace as printed. */
    private static String everything(Throwable e) {
        StringWriter text = new StringWriter();
        e.printStackTrace(new PrintWriter(text));
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            text.append('\n')
                    .append(String.valueOf(t.getMessage()))
                    .append('\n')
                    .append(t.toString());
        return text.toString();
    }

    private static void assertNoSecret(Form form, List<String> seen) {
        for (String text : seen)
            for (String piece : PIECES)
                if (text.contains(piece)) fail(form + ": the password (\"" + piece + "\") shows in:\n" + text);
    }
}
