package dev.locking.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

/** How times and amounts read in tables. */
final class Format {
    private Format() {}

    /** {@code 2025-01-01T10:00:30Z (in 29s)}, or {@code never} for a lock held until released. */
    static String expiry(Instant expiresAt, Instant now) {
        if (expiresAt == null) return "never";
        Duration left = Duration.between(now, expiresAt);
        String relative = left.isNegative() ? "expired" : "in " + human(left);
        return expiresAt.truncatedTo(ChronoUnit.MILLIS) + " (" + relative + ")";
    }

    /** {@code 850ms}, {@code 29s}, {@code 4m 10s}, {@code 2h 5m}, {@code 3d 4h}. */
    static String human(Duration d) {
        long ms = d.toMillis();
        if (ms < 1000) return ms + "ms";
        long s = d.toSeconds();
        if (s < 60) return s + "s";
        if (s < 3600) return (s / 60) + "m " + (s % 60) + "s";
        if (s < 86_400) return (s / 3600) + "h " + (s % 3600 / 60) + "m";
        return (s / 86_400) + "d " + (s % 86_400 / 3600) + "h";
    }

    /** Nanoseconds as milliseconds with two decimals, e.g. {@code 1.25 ms}. */
    static String millis(long nanos) {
        return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
    }

    /** Seconds with two decimals, e.g. {@code 1.48 s}. */
    static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.2f s", d.toNanos() / 1e9);
    }

    /** Seconds with three decimals as a JSON number. */
    static double secondsValue(Duration d) {
        return Math.round(d.toNanos() / 1e6) / 1e3;
    }
}
