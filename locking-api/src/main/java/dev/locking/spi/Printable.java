package dev.locking.spi;

/**
 * Makes caller-supplied text (keys, owners, server messages) safe to print on a terminal or in a
 * log line. A key may hold any character but NUL, so printed raw it could end a log line and
 * forge the next one, or drive a terminal with escape sequences.
 *
 * <p>{@link #escape} keeps every printable character and writes each other one as an escape: a
 * backslash as {@code \\}, newline, carriage return and tab as {@code \n}, {@code \r}, {@code
 * \t}, and every other control character, line or paragraph separator, bidirectional-text control
 * and unpaired surrogate as {@code \}{@code uXXXX}. Two different strings never print the same.
 */
public final class Printable {
    private Printable() {}

    /** {@code text} with every character that could steer a terminal or a log escaped; "null" for null. */
    public static String escape(CharSequence text) {
        if (text == null) return "null";
        int n = text.length();
        int i = 0;
        while (i < n && !needsEscape(text, i)) i++;
        if (i == n) return text.toString();
        StringBuilder out = new StringBuilder(n + 16).append(text, 0, i);
        for (; i < n; i++) {
            char c = text.charAt(i);
            if (!needsEscape(text, i)) {
                out.append(c);
                continue;
            }
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> out.append(String.format("\\u%04X", (int) c));
            }
        }
        return out.toString();
    }

    private static boolean needsEscape(CharSequence text, int i) {
        char c = text.charAt(i);
        if (c == '\\' || c < 0x20 || (c >= 0x7F && c <= 0x9F)) return true;
        if (c == '\u2028' || c == '\u2029') return true; // line and paragraph separators
        // Bidirectional controls reorder what follows them on screen (the "Trojan Source" trick).
        if (c == '\u061C' || c == '\u200E' || c == '\u200F') return true;
        if (c >= '\u202A' && c <= '\u202E') return true;
        if (c >= '\u2066' && c <= '\u2069') return true;
        if (Character.isHighSurrogate(c))
            return i + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(i + 1));
        if (Character.isLowSurrogate(c)) return i == 0 || !Character.isHighSurrogate(text.charAt(i - 1));
        return false;
    }
}
