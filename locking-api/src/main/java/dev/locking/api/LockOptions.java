package dev.locking.api;

import dev.locking.spi.Arguments;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * Options of one call. Immutable: each setter returns a changed copy, so a shared instance is
 * safe. Every setter rejects a bad value at once with an {@link IllegalArgumentException} naming
 * it, before any lock is taken.
 *
 * <pre>{@code
 * LockOptions.defaults().owner("checkout-42").expire(Duration.ofSeconds(30)).timeout(Duration.ofSeconds(2))
 * }</pre>
 */
public final class LockOptions {

    /**
     * The longest lease {@link #expire(Duration)} accepts: 3,650 days (about ten years). It fits
     * every store's millisecond and nanosecond arithmetic with room to spare; a longer lease is
     * almost certainly a unit mistake. For a lock that never expires, do not set {@code expire}.
     */
    public static final Duration MAX_EXPIRE = Duration.ofDays(3650);

    /**
     * The longest wait {@link #timeout(Duration)} keeps: 3,650 days (about ten years). A longer
     * timeout, such as {@code ChronoUnit.FOREVER.getDuration()}, means "wait as long as it takes"
     * and is lowered to this, so that no deadline arithmetic overflows.
     */
    public static final Duration MAX_TIMEOUT = Duration.ofDays(3650);

    private static final LockOptions DEFAULTS = new LockOptions(null, null, null, null);

    private final String owner;
    private final Duration expire;
    private final Duration timeout;
    private final String provider;

    private LockOptions(String owner, Duration expire, Duration timeout, String provider) {
        this.owner = owner;
        this.expire = expire;
        this.timeout = timeout;
        this.provider = provider;
    }

    /** No owner (anonymous), no expiry, no waiting (for {@code execute}: the configured defaults), default provider. */
    public static LockOptions defaults() {
        return DEFAULTS;
    }

    /**
     * The owner to hold and release locks as. Re-acquiring a key one holds succeeds; only the
     * owner (or an owner-less call, for anonymous locks) releases it.
     *
     * @param ownerId non-blank, at most {@value LockingService#MAX_KEY_BYTES} bytes of UTF-8
     */
    public LockOptions owner(String ownerId) {
        Arguments.requireText(ownerId, "ownerId");
        return new LockOptions(ownerId, expire, timeout, provider);
    }

    /**
     * The lease: the lock frees itself this long after it was taken (by the store's clock),
     * unless renewed. Without it an {@code acquire}d lock is held until released; {@code
     * execute} uses {@code locking.execute.expire} (60 s by default). Sub-second values work.
     *
     * @param lease positive, at least 1 ms and at most {@link #MAX_EXPIRE} (3,650 days); at
     *     millisecond precision
     */
    public LockOptions expire(Duration lease) {
        if (lease == null) throw new IllegalArgumentException("expire must not be null");
        if (lease.isNegative() || lease.isZero())
            throw new IllegalArgumentException(
                    "expire must be positive, was " + lease + " (for a lock that never expires, do not set expire)");
        // Compared before any conversion: toMillis() and toNanos() of a huge Duration overflow.
        if (lease.compareTo(MAX_EXPIRE) > 0)
            throw new IllegalArgumentException("expire must be at most " + MAX_EXPIRE.toDays() + " days, was " + lease
                    + " (for a lock that never expires, do not set expire)");
        if (lease.toMillis() == 0) throw new IllegalArgumentException("expire must be at least 1 ms, was " + lease);
        return new LockOptions(owner, lease, timeout, provider);
    }

    /**
     * How long to wait for held keys, in arrival order, before giving up with {@link
     * LockTimeoutException}. Zero (the default for {@code acquire}) means do not wait; {@code
     * execute} uses {@code locking.execute.timeout} (5 s by default).
     *
     * @param wait zero or positive; a wait longer than {@link #MAX_TIMEOUT} (3,650 days) is lowered
     *     to it, which is as good as waiting forever
     */
    public LockOptions timeout(Duration wait) {
        if (wait == null) throw new IllegalArgumentException("timeout must not be null");
        if (wait.isNegative()) throw new IllegalArgumentException("timeout must not be negative, was " + wait);
        Duration bounded = wait.compareTo(MAX_TIMEOUT) > 0 ? MAX_TIMEOUT : wait;
        return new LockOptions(owner, expire, bounded, provider);
    }

    /**
     * The provider registration to use instead of the default one: {@code "lp_<id>"}, {@code
     * "<id>"}, or a provider identifier such as {@code "lp_locking-postgres"} when exactly one
     * registration has it.
     */
    public LockOptions provider(String providerId) {
        Arguments.requireText(providerId, "providerId");
        return new LockOptions(owner, expire, timeout, providerId);
    }

    /** The owner set with {@link #owner(String)}, or empty for anonymous. */
    public Optional<String> owner() {
        return Optional.ofNullable(owner);
    }

    /** The lease set with {@link #expire(Duration)}, or empty. */
    public Optional<Duration> expire() {
        return Optional.ofNullable(expire);
    }

    /** The wait set with {@link #timeout(Duration)} (at most {@link #MAX_TIMEOUT}), or empty. */
    public Optional<Duration> timeout() {
        return Optional.ofNullable(timeout);
    }

    /** The provider set with {@link #provider(String)}, or empty for the default. */
    public Optional<String> provider() {
        return Optional.ofNullable(provider);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LockOptions other
                && Objects.equals(owner, other.owner)
                && Objects.equals(expire, other.expire)
                && Objects.equals(timeout, other.timeout)
                && Objects.equals(provider, other.provider);
    }

    @Override
    public int hashCode() {
        return Objects.hash(owner, expire, timeout, provider);
    }

    @Override
    public String toString() {
        return "LockOptions{owner=" + owner + ", expire=" + expire + ", timeout=" + timeout + ", provider=" + provider
                + "}";
    }
}
