package dev.locking.examples;

import dev.locking.api.LockOptions;
import dev.locking.api.LockingService;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An application's checkout, written against {@link LockingService} only: it names no store and
 * no provider, so where its locks live is the configuration's business.
 */
public final class Checkout {
    private final LockingService locking;
    private final Map<String, Integer> stock;

    /** @param stock shared by every instance of the application, as a database table would be */
    public Checkout(LockingService locking, Map<String, Integer> stock) {
        this.locking = locking;
        this.stock = stock;
    }

    public static Map<String, Integer> sharedStock(String product, int units) {
        Map<String, Integer> stock = new ConcurrentHashMap<>();
        stock.put(product, units);
        return stock;
    }

    /** Sells one unit if any is left; the read and the write happen under the product's lock. */
    public boolean buy(String product) throws InterruptedException {
        return locking.execute(
                product,
                lock -> {
                    int left = stock.get(product);
                    Thread.sleep(2); // the window an unguarded read-modify-write leaves open
                    if (left <= 0) return false;
                    stock.put(product, left - 1);
                    return true;
                },
                LockOptions.defaults().timeout(Duration.ofSeconds(30)));
    }

    /** Holds a cart for a customer for a while, so a second checkout of it is refused. */
    public String reserveCart(String cart, String customer) {
        return locking.acquire(cart, LockOptions.defaults().owner(customer).expire(Duration.ofSeconds(30)))
                .provider();
    }

    public boolean releaseCart(String cart, String customer) {
        return locking.release(cart, LockOptions.defaults().owner(customer));
    }
}
