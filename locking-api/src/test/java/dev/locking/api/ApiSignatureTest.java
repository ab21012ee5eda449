package dev.locking.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.locking.api.ApiSignature.Entry;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Pins the public surface of locking-api: the committed {@code api-signature.txt} must match the
 * compiled classes, and every type or member that differs must be named in CHANGELOG.md's
 * [Unreleased] section. {@code -Dlocking.api.update=true} rewrites the file, once the changelog names
 * every change.
 */
class ApiSignatureTest {
    private static final Path MODULE = Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    private static final Path SIGNATURE_FILE = MODULE.resolve("api-signature.txt");
    private static final Path CHANGELOG = MODULE.resolve("../CHANGELOG.md").normalize();

    @Test
    void theCompiledSurfaceMatchesTheSignatureFileAndTheChangelogNamesEveryChange() throws Exception {
        List<Entry> current = currentSurface();
        boolean update = Boolean.getBoolean(ApiSignature.UPDATE_PROPERTY);
        if (update && !Files.exists(SIGNATURE_FILE)) {
            Files.writeString(SIGNATURE_FILE, ApiSignature.render(current), StandardCharsets.UTF_8);
            return;
        }
        List<Entry> committed = committedSurface();
        if (current.equals(committed)) return;
        Set<String> unnoted = ApiSignature.notMentioned(ApiSignature.changedNames(committed, current), unreleased());
        if (update && unnoted.isEmpty()) {
            Files.writeString(SIGNATURE_FILE, ApiSignature.render(current), StandardCharsets.UTF_8);
            return;
        }
        fail("The public surface of locking-api differs from " + SIGNATURE_FILE + ":\n"
                + ApiSignature.diff(committed, current)
                + (unnoted.isEmpty()
                        ? ""
                        : "CHANGELOG.md's [Unreleased] section does not name " + String.join(", ", unnoted) + ".\n")
                + howToUpdate());
    }

    @Test
    void theSignatureFileReadsBackAsTheEntriesItWasWrittenFrom() throws Exception {
        // Names and diffs are computed from the parsed file: parsing must give back what was written.
        List<Entry> current = currentSurface();
        assertEquals(current, ApiSignature.parse(ApiSignature.render(current)));
    }

    @Test
    void aChangedMemberIsNamedByItsTypeAndName() {
        List<Entry> before = ApiSignature.parse(String.join(
                "\n",
                "public sealed interface dev.locking.spi.AcquireResult permits dev.locking.spi.AcquireResult.Blocked",
                "public static final record dev.locking.spi.AcquireResult.Blocked(java.lang.String aheadWaiterId)",
                "    public Blocked(java.lang.String)",
                "    public java.lang.String aheadWaiterId()",
                "public final class dev.locking.api.LockOptions",
                "    public static final int LIMIT",
                "    public dev.locking.api.LockOptions expire(java.time.Duration)"));
        List<Entry> after = ApiSignature.parse(String.join(
                "\n",
                "public sealed interface dev.locking.spi.AcquireResult permits dev.locking.spi.AcquireResult.Blocked",
                "public static final record dev.locking.spi.AcquireResult.Blocked(java.lang.String aheadWaiterId)",
                "    public Blocked(java.lang.String, long)",
                "    public java.lang.String aheadWaiterId()",
                "public final class dev.locking.api.LockOptions",
                "    public static final long LIMIT",
                "    public <T> java.util.List<T> expire(java.time.Duration, java.util.Map<java.lang.String, T>)"));
        assertEquals(
                Set.of("AcquireResult.Blocked", "LockOptions.LIMIT", "LockOptions.expire"),
                ApiSignature.changedNames(before, after));
        String diff = ApiSignature.diff(before, after);
        assertTrue(diff.contains("- " + "    public Blocked(java.lang.String)"), diff);
        assertTrue(diff.contains("+ " + "    public Blocked(java.lang.String, long)"), diff);
    }

    @Test
    void aNameCountsAsNotedOnlyWhenTheUnreleasedSectionNamesItWhole() {
        String changelog = String.join(
                "\n",
                "# Changelog",
                "## [Unreleased]",
                "- `LockOptions.expire` takes sub-second durations; `LockingProvider#release` returns a count.",
                "- `ProviderContextual` is new.",
                "## [0.1.0] - 2026-12-01",
                "- `Lease.keys` and `Printable` were added.");
        String unreleased = ApiSignature.unreleasedSection(changelog);
        assertEquals(
                Set.of("Lease.keys", "Printable", "ProviderContext", "LockOptions.owner"),
                ApiSignature.notMentioned(
                        Set.of(
                                "LockOptions.expire",
                                "LockingProvider.release",
                                "Lease.keys",
                                "Printable",
                                "ProviderContext",
                                "LockOptions.owner"),
                        unreleased));
    }

    private static List<Entry> currentSurface() throws IOException, URISyntaxException {
        Path classes = Path.of(LockingService.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
        return ApiSignature.of(classes, ApiSignatureTest.class.getClassLoader());
    }

    private static List<Entry> committedSurface() throws IOException {
        if (!Files.exists(SIGNATURE_FILE))
            fail(SIGNATURE_FILE + " is missing. Write it from the compiled classes with, from the root: "
                    + ApiSignature.UPDATE_COMMAND);
        return ApiSignature.parse(Files.readString(SIGNATURE_FILE, StandardCharsets.UTF_8));
    }

    private static String unreleased() throws IOException {
        String section = ApiSignature.unreleasedSection(Files.readString(CHANGELOG, StandardCharsets.UTF_8));
        if (section == null) fail(CHANGELOG + " has no \"## [Unreleased]\" section to name API changes in.");
        return section;
    }

    private static String howToUpdate() {
        return "To accept the change: name each changed type or member (e.g. `LockingProvider.release`) in"
                + " CHANGELOG.md's [Unreleased] section, then regenerate " + SIGNATURE_FILE.getFileName()
                + " from the root with:\n  " + ApiSignature.UPDATE_COMMAND;
    }
}
