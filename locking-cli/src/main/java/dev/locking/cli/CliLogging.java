package dev.locking.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Logging of the tool. Quiet by default: the library's INFO lines (providers found, pools opened)
 * and the pool's and driver's warnings would bury the one line an operator needs, so only errors of
 * dev.locking show, one line each, without stack traces. {@code --verbose} logs everything at INFO
 * with stack traces. Logs go to the command's stderr, never stdout, so {@code --json} output stays
 * parseable. Messages and stack traces are escaped ({@link Terminal}): they carry keys, owners and
 * server text. The PostgreSQL driver logs through java.util.logging, whose console handler would
 * print its warnings raw and past these levels; java.util.logging is routed here instead.
 */
final class CliLogging {
    // Held so the JDK's LogManager (weak references) keeps the level set on it.
    private static final java.util.logging.Logger JLINE = java.util.logging.Logger.getLogger("org.jline");

    private CliLogging() {}

    static void configure(PrintWriter err, boolean verbose) {
        // jline (under the progress bar) logs through java.util.logging, e.g. about dumb terminals.
        JLINE.setLevel(verbose ? java.util.logging.Level.INFO : java.util.logging.Level.OFF);
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) return;
        context.reset();
        if (!SLF4JBridgeHandler.isInstalled()) {
            SLF4JBridgeHandler.removeHandlersForRootLogger();
            SLF4JBridgeHandler.install();
        }

        PatternLayout layout = new PatternLayout();
        layout.setContext(context);
        layout.getInstanceConverterMap().put("escapedMessage", EscapedMessage::new);
        layout.getInstanceConverterMap().put("escapedException", EscapedException::new);
        layout.setPattern(
                verbose
                        ? "%d{HH:mm:ss.SSS} %-5level [%thread] %logger{36} - %escapedMessage%n%escapedException"
                        : "locking: %level: %escapedMessage%n%nopex");
        layout.start();
        LayoutWrappingEncoder<ILoggingEvent> encoder = new LayoutWrappingEncoder<>();
        encoder.setContext(context);
        encoder.setLayout(layout);
        encoder.setCharset(StandardCharsets.UTF_8);
        encoder.start();

        OutputStreamAppender<ILoggingEvent> appender = new OutputStreamAppender<>();
        appender.setContext(context);
        appender.setName("stderr");
        appender.setEncoder(encoder);
        appender.setOutputStream(new WriterStream(err));
        appender.start();

        ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.addAppender(appender);
        root.setLevel(verbose ? Level.INFO : Level.OFF);
        if (!verbose) context.getLogger("dev.locking").setLevel(Level.ERROR);
    }

    /** The event's message, escaped. */
    private static final class EscapedMessage extends ClassicConverter {
        @Override
        public String convert(ILoggingEvent event) {
            return Terminal.text(event.getFormattedMessage());
        }
    }

    /** The event's stack trace, each line escaped. */
    private static final class EscapedException extends ThrowableProxyConverter {
        @Override
        public String convert(ILoggingEvent event) {
            String trace = super.convert(event);
            return trace.isEmpty() ? trace : Terminal.lines(trace);
        }
    }

    /** Bytes from the encoder, handed to the command's writer one flushed event at a time. */
    private static final class WriterStream extends OutputStream {
        private final PrintWriter writer;
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();

        WriterStream(PrintWriter writer) {
            this.writer = writer;
        }

        @Override
        public synchronized void write(int b) {
            buffer.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            buffer.write(b, off, len);
        }

        @Override
        public synchronized void flush() {
            writer.print(buffer.toString(StandardCharsets.UTF_8));
            writer.flush();
            buffer.reset();
        }

        @Override
        public void close() {
            flush();
        }
    }
}
