package dev.locking.api;

/**
 * Work done while holding locks.
 *
 * @param <T> what the job returns
 * @param <X> the checked exception it may throw, passed through {@code execute} unchanged
 */
@FunctionalInterface
public interface LockedJob<T, X extends Exception> {
    T run(LockContext lock) throws X;
}
