package dev.locking.testkit.servers;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** What the private server fixtures share: free ports, commands run to completion, process trees and temp dirs removed. */
final class Processes {
    private Processes() {}

    /** True when this JVM runs as root, where PostgreSQL must be started as another user. */
    static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** A loopback port that is free now (another process may still take it first; rare on loopback). */
    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("No free loopback port", e);
        }
    }

    /** Runs a command to its end and returns its output; fails with the output when it fails or overruns. */
    static String run(List<String> command, Duration limit) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            // Read on this thread: the commands used here print little, and the reader ends with the process.
            byte[] out = p.getInputStream().readAllBytes();
            String text = new String(out, StandardCharsets.UTF_8).strip();
            if (!p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(
                        String.join(" ", command) + " did not finish in " + limit + ": " + text);
            }
            if (p.exitValue() != 0)
                throw new IllegalStateException(
                        String.join(" ", command) + " failed (exit " + p.exitValue() + "): " + text);
            return text;
        } catch (IOException e) {
            throw new IllegalStateException("Cannot run " + command.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted running " + command.get(0), e);
        }
    }

    /** SIGKILL to a process and everything it started, then waits for them to go. */
    static void killTree(ProcessHandle process) {
        List<ProcessHandle> all = new ArrayList<>();
        process.descendants().forEach(all::add);
        all.add(0, process);
        for (ProcessHandle p : all) p.destroyForcibly();
        for (ProcessHandle p : all) {
            try {
                p.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                // Gone or going; nothing more a test can do.
            }
        }
    }

    /** Deletes a directory tree, quietly: used on the way out. */
    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) return;
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | java.io.UncheckedIOException e) {
            // A temp dir left behind is not worth failing a test for.
        }
    }

    /** Waits up to {@code limit} for {@code condition}; fails naming {@code what}. */
    static void waitUntil(java.util.function.BooleanSupplier condition, Duration limit, String what) {
        RedisServer.waitUntil(condition, limit, what);
    }
}
