package dev.locking.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A plain-text table: a header row, columns two spaces apart, no borders, so it pastes anywhere.
 * Cells are escaped ({@link Terminal}) when added, so a key's control characters neither reach the
 * terminal nor shift the columns: widths are those of the escaped text.
 */
final class Table {
    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    Table(String... headers) {
        this.headers = List.of(headers);
    }

    Table row(Object... cells) {
        if (cells.length != headers.size())
            throw new IllegalArgumentException("expected " + headers.size() + " cells, got " + cells.length);
        rows.add(
                Arrays.stream(cells).map(c -> c == null ? "" : Terminal.text(c)).toList());
        return this;
    }

    boolean isEmpty() {
        return rows.isEmpty();
    }

    void print(PrintWriter out) {
        int[] widths = new int[headers.size()];
        for (int i = 0; i < widths.length; i++) widths[i] = headers.get(i).length();
        for (List<String> row : rows)
            for (int i = 0; i < widths.length; i++)
                widths[i] = Math.max(widths[i], row.get(i).length());
        line(out, headers, widths);
        for (List<String> row : rows) line(out, row, widths);
    }

    private static void line(PrintWriter out, List<String> cells, int[] widths) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.size(); i++) {
            String cell = cells.get(i);
            sb.append(cell);
            if (i < cells.size() - 1) sb.append(" ".repeat(widths[i] - cell.length() + 2));
        }
        out.println(sb.toString().stripTrailing());
    }
}
