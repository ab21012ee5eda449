package dev.locking.redis;

/**
 * What a Redis server does when its memory is full, as {@code INFO memory} reports it. A server
 * with a memory limit and any policy but {@code noeviction} deletes keys to make room: {@code
 * allkeys-*} any key, {@code volatile-*} keys with an expiry, which every lock with a lease has.
 * A deleted lock record is a free key, and a second owner takes it while the first still believes
 * it holds it.
 *
 * @param policy {@code maxmemory_policy}, e.g. "noeviction", "allkeys-lru"
 * @param maxmemory {@code maxmemory} in bytes; 0 is no limit, so nothing is ever evicted
 */
record MemoryPolicy(String policy, long maxmemory) {

    /** What the provider does about a server that may evict: option {@code on-evicting-policy}. */
    enum OnEvicting {
        /** New locks are refused (the start fails when the server answers then) until the policy is safe. */
        REFUSE,
        /** A warning is logged and locks are taken anyway. */
        WARN
    }

    /** The policy in the text of {@code INFO memory}; null when the reply names none. */
    static MemoryPolicy parse(String info) {
        String policy = null;
        long maxmemory = 0;
        for (String line : info.split("\r?\n")) {
            if (line.startsWith("maxmemory_policy:"))
                policy = line.substring("maxmemory_policy:".length()).trim();
            else if (line.startsWith("maxmemory:")) {
                try {
                    maxmemory =
                            Long.parseLong(line.substring("maxmemory:".length()).trim());
                } catch (NumberFormatException e) {
                    maxmemory = -1; // unreadable: count it as a limit
                }
            }
        }
        return policy == null ? null : new MemoryPolicy(policy, maxmemory);
    }

    /** True when the server may delete keys it holds, locks included. */
    boolean evicts() {
        return maxmemory != 0 && !policy.equals("noeviction");
    }

    @Override
    public String toString() {
        return "maxmemory-policy " + policy + ", maxmemory " + (maxmemory < 0 ? "unknown" : maxmemory + " bytes");
    }
}
