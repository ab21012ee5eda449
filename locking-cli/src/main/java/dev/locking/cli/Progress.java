package dev.locking.cli;

import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress bars on stderr. On a terminal the bar redraws in place; anywhere else (CI logs, a pipe,
 * a test) it becomes a plain ASCII line at most once a second and once at the end, because a bar
 * that redraws with carriage returns turns a log file into one unreadable line.
 */
final class Progress {
    private Progress() {}

    static ProgressBar start(String task, long max, CliEnvironment environment, PrintWriter err) {
        return start(task, max, environment, err, null, 1);
    }

    static ProgressBar start(
            String task, long max, CliEnvironment environment, PrintWriter err, String unit, long unitSize) {
        ProgressBarBuilder builder =
                new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setUpdateIntervalMillis(100);
        if (unit != null) builder.setUnit(unit, unitSize);
        if (environment.interactive()) {
            boolean utf8 = Charset.defaultCharset().equals(StandardCharsets.UTF_8);
            builder.setStyle(utf8 ? ProgressBarStyle.COLORFUL_UNICODE_BLOCK : ProgressBarStyle.ASCII);
        } else {
            builder.setStyle(ProgressBarStyle.ASCII).setConsumer(new LineConsumer(err, 1_000));
        }
        return builder.build();
    }

    /** Prints the rendered bar as a line at most every {@code intervalMillis}, and the last state at close. */
    static final class LineConsumer implements ProgressBarConsumer {
        private final PrintWriter err;
        private final long intervalNanos;
        private long lastPrintedAt;
        private String printed;
        private String latest;

        LineConsumer(PrintWriter err, long intervalMillis) {
            this.err = err;
            this.intervalNanos = intervalMillis * 1_000_000L;
        }

        @Override
        public int getMaxRenderedLength() {
            return 100;
        }

        @Override
        public synchronized void accept(String rendered) {
            latest = rendered.strip();
            long now = System.nanoTime();
            if (printed == null || now - lastPrintedAt >= intervalNanos) print(now);
        }

        @Override
        public void clear() {}

        @Override
        public synchronized void close() {
            if (latest != null && !latest.equals(printed)) print(System.nanoTime());
        }

        private void print(long now) {
            err.println(latest);
            err.flush();
            printed = latest;
            lastPrintedAt = now;
        }
    }
}
