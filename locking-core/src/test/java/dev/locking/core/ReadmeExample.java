package dev.locking.core;

import dev.locking.api.Lease;
import dev.locking.api.LockOptions;
import java.time.Duration;

/** The README's example, compiled and run by {@link ReadmeExampleTest} so the README cannot drift from the API. */
final class ReadmeExample {
    private int stock = 3;

    private int reserveStock() {
        return --stock;
    }

    boolean run() {
        // README-BEGIN
        try (LockingModule locking = LockingModule.create()) { // reads application.conf
            int left = locking.execute("prod_123", lock -> reserveStock()); // waits, runs, releases

            Lease cart = locking.acquire(
                    "cart_9", LockOptions.defaults().owner("checkout-42").expire(Duration.ofSeconds(30)));
            long token = cart.fencingToken("cart_9"); // hand it to the store you write to

            boolean released = locking.release("cart_9", LockOptions.defaults().owner("checkout-42"));
            // README-END
            return left == 2 && token > 0 && released;
        }
    }
}
