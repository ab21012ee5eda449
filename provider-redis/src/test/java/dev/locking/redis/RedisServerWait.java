package dev.locking.redis;

import java.util.function.BooleanSupplier;

/** Polls a condition with a generous bound, so that a broken provider fails instead of hanging. */
final class RedisServerWait {
    private RedisServerWait() {}

    static void until(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("Gave up waiting for " + what);
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("Interrupted waiting for " + what, e);
            }
        }
    }
}
