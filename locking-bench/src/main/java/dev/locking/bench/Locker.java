package dev.locking.bench;

import java.util.List;

/** One way of taking and freeing locks under measurement: a provider of ours, a raw protocol, or a peer. */
interface Locker extends AutoCloseable {

    /** A handle for one calling thread (its owner id, its held connection); never shared. */
    Caller caller(int index);

    @Override
    void close();

    /** What one thread does with a {@link Locker}. */
    interface Caller {
        /** Takes {@code key} at once, or returns false when it is held. */
        boolean tryLock(String key);

        /** Frees a key this caller took. */
        void unlock(String key);

        /** Takes all {@code keys} (sorted, distinct) or none. */
        default boolean tryLockAll(List<String> keys) {
            throw new UnsupportedOperationException("no multi-key lock");
        }

        default void unlockAll(List<String> keys) {
            throw new UnsupportedOperationException("no multi-key lock");
        }

        /** Runs {@code job} under {@code key} if it is free now (our {@code execute}); false when held. */
        default boolean execute(String key, Runnable job) {
            if (!tryLock(key)) return false;
            try {
                job.run();
            } finally {
                unlock(key);
            }
            return true;
        }

        /** Waits for {@code key} as long as it takes, runs {@code job} and frees it. */
        void runLocked(String key, Runnable job);
    }
}
