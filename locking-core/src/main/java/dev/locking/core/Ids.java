package dev.locking.core;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ids unique across processes and cheap to make: one random prefix per JVM plus a counter, so
 * the hot path of {@code execute} draws no {@code SecureRandom} bytes.
 */
final class Ids {
    private static final String PREFIX = UUID.randomUUID().toString().substring(0, 18);
    private static final AtomicLong COUNTER = new AtomicLong();

    private Ids() {}

    static String next() {
        return PREFIX + "-" + Long.toString(COUNTER.incrementAndGet(), 36);
    }
}
