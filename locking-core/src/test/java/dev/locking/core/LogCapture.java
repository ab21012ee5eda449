package dev.locking.core;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Captures what dev.locking logs while it is open. */
final class LogCapture implements AutoCloseable {
    private final Logger logger = (Logger) LoggerFactory.getLogger("dev.locking");
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    LogCapture() {
        appender.start();
        logger.addAppender(appender);
    }

    /** Each event as "LEVEL message". */
    List<String> lines() {
        List<ILoggingEvent> events;
        // ListAppender appends under its own monitor (AppenderBase.doAppend), from any thread.
        synchronized (appender) {
            events = List.copyOf(appender.list);
        }
        return events.stream()
                .map(e -> e.getLevel() + " " + e.getFormattedMessage())
                .toList();
    }

    boolean has(String level, String part) {
        return lines().stream().anyMatch(l -> l.startsWith(level + " ") && l.contains(part));
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
    }
}
