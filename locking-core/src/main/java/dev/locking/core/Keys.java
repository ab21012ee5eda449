package dev.locking.core;

import dev.locking.spi.Arguments;
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
        return List.copyOf(sorted);
    }
}
