package dev.locking.core;

import java.util.Map;

final class Tokens {
    private Tokens() {}

    static long of(Map<String, Long> tokens, String key) {
        Long token = tokens.get(key);
        if (token == null)
            throw new IllegalArgumentException("key \"" + key + "\" is not held here; held: " + tokens.keySet());
        return token;
    }
}
