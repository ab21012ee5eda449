package dev.locking.cli;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Durations as people type them: {@code 500ms}, {@code 30s}, {@code 1.5s}, {@code 2m}, {@code 1h},
 * {@code 1d}, ISO-8601 ({@code PT30S}), or a bare number of seconds (Medusa's unit). Negative values
 * are refused here, naming the option, before anything is tried.
 */
final class DurationConverter implements ITypeConverter<Duration> {
    private static final Pattern SIMPLE = Pattern.compile(
            "([+-]?\\d+(?:\\.\\d+)?)\\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)?");

    @Override
    public Duration convert(String value) {
        return parse(value);
    }

    static Duration parse(String value) {
        String text = value.trim();
        Duration d;
        if (text.startsWith("P") || text.startsWith("-P") || text.startsWith("p")) {
            try {
                d = Duration.parse(text);
            } catch (DateTimeParseException e) {
                throw invalid(value);
            }
        } else {
            Matcher m = SIMPLE.matcher(text.toLowerCase());
            if (!m.matches()) throw invalid(value);
            double amount = Double.parseDouble(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            double millisPerUnit =
                    switch (unit.charAt(0)) {
                        case 'd' -> 86_400_000d;
                        case 'h' -> 3_600_000d;
                        case 'm' -> unit.equals("ms") ? 1d : 60_000d;
                        default -> 1_000d;
                    };
            double millis = amount * millisPerUnit;
            if (Math.abs(millis) > 1e12) throw new TypeConversionException("'" + value + "' is too long a duration");
            d = Duration.ofNanos(Math.round(millis * 1_000_000d));
        }
        if (d.isNegative())
            throw new TypeConversionException("'" + value + "' is negative; durations must be zero or more");
        return d;
    }

    private static TypeConversionException invalid(String value) {
        return new TypeConversionException(
                "'" + value + "' is not a duration; use e.g. 500ms, 30s, 2m, 1h, PT30S, or a number of seconds");
    }
}
