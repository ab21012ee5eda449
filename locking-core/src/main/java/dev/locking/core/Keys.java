package dev.locking.core;

import dev.locking.api.LockingService;
import dev.locking.spi.Arguments;
import dev.locking.spi.Printable;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;

/** Argument checks and normal form of keys: sorted, de-duplicated, each one valid. */
final class Keys {
    private Keys() {}

    static List<String> single(String key) {
        return List.of(Arguments.requireText(key, "key"));
    }

    static List<String> normalize(Collection<String> keys) {
        if (keys == null) throw new IllegalArgumentException("keys must not be null");
        if (keys.isEmpty()) throw new IllegalArgumentException("keys must not be empty");
        TreeSet<String> sorted = new TreeSet<>();
        int index = 0;
        for (String key : keys) {
            sorted.add(Arguments.requireText(key, "keys[" + index + "]"));
            index++;
        }
        requireAtMost(sorted.size(), LockingService.MAX_KEYS_PER_CALL, null);
        return List.copyOf(sorted);
    }

    /**
     * {@code keys} as one log-safe string: each key through {@link Printable#escape}, so a key
     * holding a line break or a terminal escape cannot forge a log line.
     */
    static String printable(Collection<String> keys) {
        StringBuilder out = new StringBuilder("[");
        for (String key : keys) {
            if (out.length() > 1) out.append(", ");
            out.append(Printable.escape(key));
        }
        return out.append(']').toString();
    }

    /**
     * Rejects a call naming more than {@code max} distinct keys, before any lock.
     *
     * @param registration the registration whose lower limit applies, or null for the API's
     */
    static void requireAtMost(int distinct, int max, Registration registration) {
        if (distinct <= max) return;
        throw new IllegalArgumentException("keys must name at most " + max + " distinct keys per call"
                + (registration == null ? "" : " in " + registration.address()) + ", was " + distinct);
    }
}
