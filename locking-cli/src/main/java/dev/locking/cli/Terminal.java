package dev.locking.cli;

import dev.locking.spi.Printable;

/**
 * What the tool prints for people. Keys, owners, provider messages and server text may hold any
 * character: printed raw, an escape sequence in a stored key clears the screen, draws fake rows,
 * sets the window title or writes the clipboard. Every such text goes through {@link
 * Printable#escape} before it reaches stdout or stderr; {@code --json} output has its own escaping
 * ({@link Json}).
 */
final class Terminal {
    private Terminal() {}

    /** {@code value} escaped for one line of output; {@code "null"} for null. */
    static String text(Object value) {
        return Printable.escape(value == null ? null : value.toString());
    }

    /** {@code value} escaped and in double quotes, as sentences quote keys and owners. */
    static String quoted(String value) {
        return "\"" + Printable.escape(value) + "\"";
    }

    /**
     * Multi-line text whose line structure is the tool's own (a stack trace): each line escaped, its
     * leading tabs kept so that stack frames still read as {@code \tat ...}.
     */
    static String lines(String text) {
        StringBuilder out = new StringBuilder(text.length() + 16);
        for (String line : text.split("\\R", -1)) {
            if (out.length() > 0) out.append(System.lineSeparator());
            int indent = 0;
            while (indent < line.length() && line.charAt(indent) == '\t') indent++;
            out.append(line, 0, indent).append(Printable.escape(line.substring(indent)));
        }
        return out.toString();
    }
}
