package dev.locking.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Every link a reader can follow lands somewhere: the relative links and anchors of README.md and
 * docs/, and every pointer into the documentation that the code carries (error messages, comments),
 * such as {@code docs/operations.md#invalid-locking-configuration}. Anchors are what GitHub makes of
 * a heading, or an explicit {@code <a id="...">}.
 */
class DocumentationLinksTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    /** A markdown link or image: {@code [text](target)}; the target up to the first space or ')'. */
    private static final Pattern MARKDOWN_LINK = Pattern.compile("\\]\\(([^)\\s]+)(?:\\s+\"[^\"]*\")?\\)");

    /** A pointer into the documentation in code: README.md, or a page under docs/, with an anchor. */
    private static final Pattern CODE_LINK =
            Pattern.compile("(?<![\\w/.-])(README(?:\\.md)?|docs/[\\w./-]+\\.md)(#[\\w-]+)?");

    private static final Pattern EXPLICIT_ANCHOR = Pattern.compile("<a\\s+(?:id|name)=\"([^\"]+)\"");
    private static final Pattern HEADING = Pattern.compile("^#{1,6}\\s+(.*?)\\s*#*\\s*$");
    private static final Pattern CODE_SPAN = Pattern.compile("`+[^`]*`+");

    private final Map<Path, Set<String>> anchorCache = new HashMap<>();

    @Test
    @DisplayName("every relative link and anchor in README.md and docs/ resolves")
    void everyRelativeLinkInTheDocumentationResolves() throws IOException {
        List<String> broken = new ArrayList<>();
        int checked = 0;
        for (Path page : documentationPages()) {
            List<String> lines = Files.readAllLines(page, StandardCharsets.UTF_8);
            boolean fenced = false;
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                if (isFence(line)) fenced = !fenced;
                if (fenced || isFence(line)) continue;
                Matcher m = MARKDOWN_LINK.matcher(CODE_SPAN.matcher(line).replaceAll(""));
                while (m.find()) {
                    String target = m.group(1);
                    if (target.matches("^[a-zA-Z][a-zA-Z0-9+.-]*:.*")) continue; // https:, mailto:
                    checked++;
                    String problem = problem(page.getParent(), page, target);
                    if (problem != null) broken.add(ROOT.relativize(page) + ":" + (i + 1) + ": " + problem);
                }
            }
        }
        assertTrue(checked > 50, "expected the documentation to hold links, found " + checked);
        assertEquals(List.of(), broken, "broken documentation links");
    }

    @Test
    @DisplayName("every pointer into the documentation in the code (messages, comments) resolves")
    void everyDocumentationLinkInTheCodeResolves() throws IOException {
        List<String> broken = new ArrayList<>();
        for (Path source : sources()) {
            List<String> lines = Files.readAllLines(source, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                Matcher m = CODE_LINK.matcher(lines.get(i));
                while (m.find()) {
                    String file = m.group(1).equals("README") ? "README.md" : m.group(1);
                    String target = file + (m.group(2) == null ? "" : m.group(2));
                    String problem = problem(ROOT, null, target);
                    if (problem != null) broken.add(ROOT.relativize(source) + ":" + (i + 1) + ": " + problem);
                }
            }
        }
        assertEquals(List.of(), broken, "documentation links in the code that lead nowhere");
    }

    @Test
    @DisplayName("headings become the anchors GitHub makes of them")
    void headingsBecomeGitHubAnchors() {
        assertEquals("locking-acquire", slug("`locking acquire`"));
        assertEquals(
                "durability-what-a-restart-or-failover-forgets",
                slug("Durability: what a restart or failover forgets"));
        assertEquals("1000-waiters-parked-on-one-key", slug("1,000 waiters parked on one key"));
        assertEquals("execute-with-an-empty-job-1-thread", slug("`execute` with an empty job, 1 thread"));
        assertEquals("locking-postgres-options", slug("`locking-postgres` options"));
    }

    /** Why {@code target}, seen from {@code dir} (and {@code page} for a bare anchor), leads nowhere; null if it resolves. */
    private String problem(Path dir, Path page, String target) {
        int hash = target.indexOf('#');
        String file = hash < 0 ? target : target.substring(0, hash);
        String anchor = hash < 0 ? null : target.substring(hash + 1);
        Path resolved = file.isEmpty() ? page : dir.resolve(file).normalize();
        if (resolved == null || !Files.exists(resolved)) return target + ": no such file";
        if (anchor == null || !resolved.toString().endsWith(".md")) return null;
        return anchors(resolved).contains(anchor)
                ? null
                : target + ": no anchor #" + anchor + " in " + ROOT.relativize(resolved);
    }

    private Set<String> anchors(Path page) {
        return anchorCache.computeIfAbsent(page, p -> {
            Set<String> anchors = new HashSet<>();
            Map<String, Integer> seen = new HashMap<>();
            boolean fenced = false;
            for (String line : readLines(p)) {
                if (isFence(line)) fenced = !fenced;
                if (fenced || isFence(line)) continue;
                Matcher explicit = EXPLICIT_ANCHOR.matcher(line);
                while (explicit.find()) anchors.add(explicit.group(1));
                Matcher heading = HEADING.matcher(line);
                if (heading.matches()) {
                    String slug = slug(heading.group(1));
                    int n = seen.merge(slug, 1, Integer::sum) - 1;
                    anchors.add(n == 0 ? slug : slug + "-" + n);
                }
            }
            return anchors;
        });
    }

    /** GitHub's anchor for a heading: lower case, tags and punctuation dropped, spaces to hyphens. */
    static String slug(String heading) {
        return heading.replaceAll("<[^>]+>", "")
                .strip()
                .toLowerCase(Locale.ROOT)
                .replaceAll("[^\\p{L}\\p{N}_\\- ]", "")
                .replace(' ', '-');
    }

    private static boolean isFence(String line) {
        String s = line.stripLeading();
        return s.startsWith("```") || s.startsWith("~~~");
    }

    private static List<Path> documentationPages() throws IOException {
        List<Path> pages = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.walk(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(pages::add);
        }
        return pages;
    }

    /** Every module's Java sources and resources, where error messages and comments live. */
    private static List<Path> sources() throws IOException {
        try (Stream<Path> all = Files.walk(ROOT)) {
            return all.filter(Files::isRegularFile)
                    .filter(p -> {
                        String s = ROOT.relativize(p).toString().replace('\\', '/');
                        return s.contains("/src/")
                                && !s.contains("/target/")
                                && (s.endsWith(".java")
                                        || s.endsWith(".conf")
                                        || s.endsWith(".sql")
                                        || s.endsWith(".lua"));
                    })
                    .sorted()
                    .toList();
        }
    }

    private static List<String> readLines(Path p) {
        try {
            return Files.readAllLines(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
