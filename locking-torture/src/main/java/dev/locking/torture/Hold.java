package dev.locking.torture;

/**
 * One critical section as a worker saw it, on the machine's monotonic clock ({@code
 * System.nanoTime()} is CLOCK_MONOTONIC on Linux, one clock for every process of the machine).
 *
 * @param key the key held
 * @param token the fencing token the acquisition got
 * @param start when the holder knew it held the key (after acquire returned)
 * @param end when it stopped using it (before release)
 * @param validUntil the end of the lease as the holder can vouch for it: the attempt's start plus
 *     the lease, or {@code end} for an {@code execute} whose renewals held
 * @param mode "execute" or "acquire"
 * @param worker which process and thread
 * @param guardAccepted whether the guarded store took this section's write
 */
record Hold(
        String key,
        long token,
        long start,
        long end,
        long validUntil,
        String mode,
        String worker,
        boolean guardAccepted) {

    /** The part of the hold covered by a valid lease: the only part mutual exclusion promises. */
    long validEnd() {
        return Math.min(end, validUntil);
    }

    String toLine() {
        return String.join(
                "\t",
                key,
                Long.toString(token),
                Long.toString(start),
                Long.toString(end),
                Long.toString(validUntil),
                mode,
                worker,
                Boolean.toString(guardAccepted));
    }

    static Hold parse(String line) {
        String[] f = line.split("\t", -1);
        if (f.length != 8) throw new IllegalArgumentException("bad history line: " + line);
        return new Hold(
                f[0],
                Long.parseLong(f[1]),
                Long.parseLong(f[2]),
                Long.parseLong(f[3]),
                Long.parseLong(f[4]),
                f[5],
                f[6],
                Boolean.parseBoolean(f[7]));
    }
}
