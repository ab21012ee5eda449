package dev.locking.torture;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The store a lock protects, as fencing tokens expect it: it keeps the greatest token that wrote
 * to each key and rejects a write with a smaller one. A file per key under an OS file lock, so
 * every worker process shares it and it survives any database or Redis fault the test injects.
 */
final class FileGuard {
    private final Path dir;

    FileGuard(Path dir) {
        this.dir = dir;
    }

    /** Writes for {@code token}; true if accepted, false if a greater token already wrote. */
    boolean write(String key, long token) {
        Path file = dir.resolve(Integer.toHexString(key.hashCode()) + "-" + key.length() + ".guard");
        try (FileChannel ch =
                FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            FileLock lock = ch.lock();
            try {
                ByteBuffer buf = ByteBuffer.allocate(64);
                ch.read(buf, 0);
                String text = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).trim();
                long last = text.isEmpty() ? Long.MIN_VALUE : Long.parseLong(text);
                if (token <= last) return false;
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(Long.toString(token).getBytes(StandardCharsets.US_ASCII)), 0);
                return true;
            } finally {
                lock.release();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
