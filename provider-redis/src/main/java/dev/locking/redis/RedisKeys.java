package dev.locking.redis;

import redis.clients.jedis.util.JedisClusterCRC16;

/**
 * Where a lock's records live. Every Redis key the provider touches starts with the namespace
 * (which holds no braces), so nothing outside it is ever read or written.
 *
 * <p>Each user key {@code K} has four records, named {@code <namespace><kind><body>} with kind
 * {@code l} (the lock), {@code f} (its fencing counter), {@code q} (its waiter queue) and {@code w}
 * (the queue entries' deadlines). The body puts all four in one Redis Cluster slot:
 *
 * <ul>
 *   <li>{@code :K} when {@code K} has a Redis hash tag (a {@code {...}} with something inside):
 *       Redis hashes the tag exactly as it would for {@code K}, so {@code {order-42}:a} and
 *       {@code {order-42}:b} share a slot and a call on both is one script in one round trip;
 *   <li>{@code {K}} when {@code K} has no hash tag and no {@code '}'}: the whole key is the tag;
 *   <li>{@code #{<n>}K} otherwise, {@code n} being the CRC16 slot of {@code K}.
 * </ul>
 *
 * The character after the kind ({@code ':'}, {@code '{'}, {@code '#'}) says which form follows and
 * each form gives {@code K} back unchanged, so two different keys never share a record. Besides,
 * {@code <namespace>t} is the ticket counter of the waiter queues, {@code <namespace>o:<owner>}
 * an owner's index of the keys it holds and {@code <namespace>a} the index of anonymous locks (an
 * index with an expiry also holds the field {@code ""}, never a user key: see acquire.lua).
 * Release notifications go to the pub/sub channel {@code <namespace>released}.
 */
final class RedisKeys {
    private final String namespace;

    RedisKeys(String namespace) {
        this.namespace = namespace;
    }

    String lock(String key) {
        return record('l', key);
    }

    String fence(String key) {
        return record('f', key);
    }

    String queue(String key) {
        return record('q', key);
    }

    String deadlines(String key) {
        return record('w', key);
    }

    String ticketCounter() {
        return namespace + "t";
    }

    /** The index of the keys {@code owner} holds; {@code null} for the anonymous locks. */
    String ownerIndex(String owner) {
        return owner == null ? namespace + "a" : namespace + "o:" + owner;
    }

    String channel() {
        return namespace + "released";
    }

    /**
     * A SCAN MATCH pattern for every lock record of this namespace and nothing else: the namespace
     * taken literally (it may hold glob characters), then kind {@code l} and the first character of
     * a body form, so that a namespace that merely starts like ours plus {@code "l"} is not matched.
     */
    String lockPattern() {
        return glob(namespace) + "l[:{#]*";
    }

    /**
     * The user key whose lock record is {@code record}, or null when {@code record} is not one of
     * this namespace's lock records. Exact: the key is accepted only if it maps back to {@code
     * record}, so a look-alike written by someone else is never taken for a lock.
     */
    String keyOfLock(String record) {
        String prefix = namespace + 'l';
        if (!record.startsWith(prefix) || record.length() < prefix.length() + 2) return null;
        String body = record.substring(prefix.length());
        String key =
                switch (body.charAt(0)) {
                    case ':' -> body.substring(1);
                    case '{' -> body.endsWith("}") ? body.substring(1, body.length() - 1) : null;
                    case '#' -> body.startsWith("#{") && body.indexOf('}') > 2
                            ? body.substring(body.indexOf('}') + 1)
                            : null;
                    default -> null;
                };
        return key != null && !key.isEmpty() && lock(key).equals(record) ? key : null;
    }

    /** {@code text} as a Redis glob that matches only itself: the glob characters escaped. */
    static String glob(String text) {
        StringBuilder pattern = new StringBuilder(text.length() + 8);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern.append('\\');
            pattern.append(c);
        }
        return pattern.toString();
    }

    /** The cluster slot of every record of {@code key}. */
    int slot(String key) {
        return JedisClusterCRC16.getSlot(lock(key));
    }

    private String record(char kind, String key) {
        if (hasHashTag(key)) return namespace + kind + ':' + key;
        if (key.indexOf('}') < 0) return namespace + kind + '{' + key + '}';
        return namespace + kind + "#{" + JedisClusterCRC16.getSlot(key) + '}' + key;
    }

    /** Redis's rule: the first '{', then the first '}' after it, with at least one character between. */
    static boolean hasHashTag(String key) {
        int open = key.indexOf('{');
        if (open < 0) return false;
        int close = key.indexOf('}', open + 1);
        return close > open + 1;
    }
}
