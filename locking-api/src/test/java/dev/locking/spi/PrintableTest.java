package dev.locking.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class PrintableTest {

    @Test
    void plainTextIsReturnedUnchanged() {
        String key = "prod_123 café 🔒 \"quoted\" * ' ; --";
        assertSame(key, Printable.escape(key));
    }

    @Test
    void aNewlineCannotStartAForgedLogLine() {
        assertEquals("k\\n2026-12-03 ERROR forged", Printable.escape("k\n2026-12-03 ERROR forged"));
    }

    @Test
    void terminalEscapeSequencesArePrintedAsText() {
        assertEquals("\\u001B]0;title\\u0007\\u001B[2J", Printable.escape("\u001B]0;title\u0007\u001B[2J"));
        assertEquals("\\u009B31m", Printable.escape("\u009B31m"));
        assertEquals("a\\u007Fb", Printable.escape("a\u007Fb"));
    }

    @Test
    void bidirectionalControlsAndSeparatorsAreEscaped() {
        assertEquals("\\u202Eevil\\u2066\\u2028", Printable.escape("\u202Eevil\u2066\u2028"));
    }

    @Test
    void aBackslashIsEscapedSoTwoDifferentStringsNeverPrintTheSame() {
        assertEquals("a\\\\nb", Printable.escape("a\\nb"));
        assertNotEquals(Printable.escape("a\\nb"), Printable.escape("a\nb"));
    }

    @Test
    void unpairedSurrogatesAreEscapedAndPairsKept() {
        assertEquals("x\\uD800y", Printable.escape("x\uD800y"));
        assertEquals("\\uDC00", Printable.escape("\uDC00"));
        assertEquals("🔒", Printable.escape("🔒"));
    }

    @Test
    void nullPrintsAsNull() {
        assertEquals("null", Printable.escape(null));
    }
}
