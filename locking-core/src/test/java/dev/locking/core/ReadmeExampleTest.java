package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The README's Java example is {@link ReadmeExample}, line for line, and it runs. */
class ReadmeExampleTest {

    @Test
    void theReadmeExampleRuns() {
        assertTrue(new ReadmeExample().run());
    }

    @Test
    void theReadmeShowsExactlyTheCompiledExample() throws IOException {
        List<String> compiled = between(
                Files.readAllLines(Path.of("src/test/java/dev/locking/core/ReadmeExample.java")),
                "// README-BEGIN",
                "// README-END");
        List<String> readme =
                between(Files.readAllLines(Path.of("../README.md")), "<!-- example: ReadmeExample -->", "```\n");
        assertEquals(
                normalize(compiled),
                normalize(readme.subList(1, readme.size())),
                "README.md's example differs from locking-core/src/test/java/dev/locking/core/ReadmeExample.java");
    }

    private static List<String> between(List<String> lines, String begin, String end) {
        int from = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (from < 0 && lines.get(i).trim().equals(begin.trim())) from = i + 1;
            else if (from >= 0 && i > from && lines.get(i).trim().equals(end.trim())) return lines.subList(from, i);
        }
        throw new AssertionError("no block between " + begin + " and " + end);
    }

    /** Compares code, not layout: whitespace runs fold, blank lines and a closing brace line go. */
    private static List<String> normalize(List<String> lines) {
        return lines.stream()
                .map(l -> l.trim().replaceAll("\\s+", " "))
                .filter(l -> !l.isEmpty() && !l.equals("}"))
                .toList();
    }
}
