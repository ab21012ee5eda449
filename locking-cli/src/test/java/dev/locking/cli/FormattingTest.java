package dev.locking.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** The small pieces the commands print with: durations in, JSON and one-line errors out. */
class FormattingTest {

    @Test
    void durationsAsPeopleTypeThem() {
        assertEquals(Duration.ofMillis(500), DurationConverter.parse("500ms"));
        assertEquals(Duration.ofSeconds(30), DurationConverter.parse("30s"));
        assertEquals(Duration.ofSeconds(30), DurationConverter.parse("30"));
        assertEquals(Duration.ofMillis(1500), DurationConverter.parse("1.5s"));
        assertEquals(Duration.ofMinutes(2), DurationConverter.parse("2m"));
        assertEquals(Duration.ofHours(1), DurationConverter.parse("1h"));
        assertEquals(Duration.ofDays(1), DurationConverter.parse("1d"));
        assertEquals(Duration.ofSeconds(30), DurationConverter.parse("PT30S"));
        assertEquals(Duration.ZERO, DurationConverter.parse("0"));
        assertThrows(TypeConversionException.class, () -> DurationConverter.parse("-1s"));
        assertThrows(TypeConversionException.class, () -> DurationConverter.parse("PT-1S"));
        assertThrows(TypeConversionException.class, () -> DurationConverter.parse("soon"));
        assertThrows(TypeConversionException.class, () -> DurationConverter.parse("5 parsecs"));
    }

    @Test
    void jsonEscapesWhatAStrictParserRejects() throws Exception {
        Map<String, Object> value = new LinkedHashMap<>();
        String nasty = "quote \" backslash \\ newline \n tab \t nul \0 bell \u0007 line-sep \u2028 é 🔒";
        value.put("key", nasty);
        value.put("list", Arrays.asList(1, 2L, 1.5, true, null));
        value.put("nested", Map.of("empty", List.of()));
        Map<?, ?> parsed = new ObjectMapper().readValue(Json.write(value), Map.class);
        assertEquals(nasty, parsed.get("key"));
        assertEquals(Arrays.asList(1, 2, 1.5, true, null), parsed.get("list"));
        assertEquals(Map.of("empty", List.of()), parsed.get("nested"));
    }

    @Test
    void storeMessagesAreFoldedIntoOneLine() {
        String flyway = "migrating failed: Unable to obtain connection\n-----------\nSQL State  : 08001\n"
                + "Message    : Connection refused.\n. Check the url.";
        assertEquals(
                "migrating failed: Unable to obtain connection; SQL State : 08001; Message : Connection refused."
                        + ". Check the url.",
                Failures.oneLine(flyway));
    }

    @Test
    void tableColumnsLineUp() {
        Table table = new Table("A", "LONGER");
        table.row("xxxx", 1).row("y", 22);
        var out = new java.io.StringWriter();
        table.print(new java.io.PrintWriter(out, true));
        assertEquals(
                List.of("A     LONGER", "xxxx  1", "y     22"),
                out.toString().lines().toList());
    }
}
