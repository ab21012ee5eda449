package dev.locking.cli;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The demo's shared stock of one product, read and written back the way a careless shop does it:
 * read the count, take the payment, write the count minus one. Without a lock, buyers that read
 * the same count all sell, and the shop sells units it does not have.
 */
final class StockRoom {

    /** Told after every sale. */
    interface Listener {
        void sold(int soldSoFar, int depletedSoFar);
    }

    private final int initial;
    private final long pauseNanos;
    private final Listener listener;
    private final AtomicInteger sold = new AtomicInteger();
    private final AtomicInteger depleted = new AtomicInteger();
    // Deliberately a plain read and a plain write, not an atomic decrement: that is the bug a lock fixes.
    private volatile int stock;

    StockRoom(int stock, Duration pause, Listener listener) {
        this.initial = stock;
        this.stock = stock;
        this.pauseNanos = pause.toNanos();
        this.listener = listener;
    }

    /** Sells one unit if the stock read says there is one; false when sold out. */
    boolean sellOne() throws InterruptedException {
        int left = stock; // SELECT stock FROM products WHERE id = 'prod_123'
        if (left <= 0) return false;
        if (pauseNanos > 0) TimeUnit.NANOSECONDS.sleep(pauseNanos); // charge the card
        stock = left - 1; // UPDATE products SET stock = :left - 1
        int n = sold.incrementAndGet();
        listener.sold(n, depleted.accumulateAndGet(initial - (left - 1), Math::max));
        return true;
    }

    int initial() {
        return initial;
    }

    int sold() {
        return sold.get();
    }

    int left() {
        return stock;
    }
}
