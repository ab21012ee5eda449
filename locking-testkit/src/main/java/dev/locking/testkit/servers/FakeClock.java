package dev.locking.testkit.servers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A wall clock for a private server process that a test can step, through libfaketime (Debian
 * package {@code faketime}): the process starts with the library preloaded and reads its offset
 * from a file on every clock call, so {@link #step(Duration)} moves its clock at once, forwards or
 * backwards. The monotonic clock is left alone: only the wall clock a store judges leases and
 * floors tokens by moves.
 *
 * <p>libfaketime cannot be preloaded into a redis-server built with jemalloc (Debian's: the
 * allocator reads the clock while the library starts, and the process dies); {@link PrivateRedis}
 * therefore runs the libc-malloc redis-server of the embedded-redis jar when a fake clock is given.
 */
public final class FakeClock {
    private static final List<Path> LIBRARIES = List.of(
            Path.of("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
            Path.of("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
            Path.of("/usr/lib/faketime/libfaketime.so.1"),
            Path.of("/usr/local/lib/faketime/libfaketime.so.1"));
    private static final String HOW_TO_INSTALL = "The clock-step tests need libfaketime: apt-get install faketime";

    private final Path offsetFile;
    private final Path library;
    private Duration offset = Duration.ZERO;

    private FakeClock(Path offsetFile, Path library) {
        this.offsetFile = offsetFile;
        this.library = library;
    }

    /**
     * A clock at the real time plus {@code initialOffset}, kept in a file under {@code dir}.
     *
     * @throws IllegalStateException when libfaketime is not installed, saying how to install it
     */
    public static FakeClock in(Path dir, Duration initialOffset) {
        Path library = LIBRARIES.stream()
                .filter(Files::isReadable)
                .findFirst()
                .orElseThrow(() ->
                        new IllegalStateException("libfaketime not found in " + LIBRARIES + ". " + HOW_TO_INSTALL));
        FakeClock clock = new FakeClock(dir.resolve("faketime.offset"), library);
        clock.set(initialOffset);
        try {
            // The server may run as another user (postgres) and must read it.
            Files.setPosixFilePermissions(clock.offsetFile, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return clock;
    }

    /** True when libfaketime is installed here. */
    public static boolean installed() {
        return LIBRARIES.stream().anyMatch(Files::isReadable);
    }

    /** Moves the process's wall clock by {@code by} (negative: backwards), at once. */
    public synchronized void step(Duration by) {
        set(offset.plus(by));
    }

    /** The offset from the real time now. */
    public synchronized Duration offset() {
        return offset;
    }

    private synchronized void set(Duration to) {
        offset = to;
        long millis = to.toMillis();
        String text = (millis < 0 ? "-" : "+") + Math.abs(millis) / 1000 + "."
                + String.format("%03d", Math.abs(millis) % 1000);
        try {
            Path tmp = offsetFile.resolveSibling(offsetFile.getFileName() + ".tmp");
            Files.writeString(tmp, text + "\n");
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(
                    tmp,
                    offsetFile,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write the fake clock's offset", e);
        }
    }

    /**
     * The environment a process needs to run on this clock. Pass it to the server itself, not to a
     * wrapper that changes user first (the library would start as the wrong user).
     */
    public Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("LD_PRELOAD", library.toString());
        env.put("FAKETIME_TIMESTAMP_FILE", offsetFile.toString());
        env.put("FAKETIME_NO_CACHE", "1");
        env.put("DONT_FAKE_MONOTONIC", "1");
        return env;
    }

    /** {@code env K=V ...}: the command prefix that puts this clock under a command run by a wrapper. */
    List<String> envPrefix() {
        List<String> prefix = new java.util.ArrayList<>(List.of("env"));
        environment().forEach((k, v) -> prefix.add(k + "=" + v));
        return prefix;
    }
}
