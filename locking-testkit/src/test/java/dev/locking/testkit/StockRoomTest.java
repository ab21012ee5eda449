package dev.locking.testkit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The stock test can fail: without a lock the same ten buyers oversell. */
class StockRoomTest {

    @Test
    void withoutALockTenBuyersOversell() throws Exception {
        LockingProviderContract.StockRoom room = new LockingProviderContract.StockRoom(5);
        ExecutorService pool = Executors.newFixedThreadPool(10);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Boolean>> buyers = new ArrayList<>();
        for (int i = 0; i < 10; i++)
            buyers.add(pool.submit(() -> {
                start.await();
                return room.buy();
            }));
        start.countDown();
        for (Future<Boolean> f : buyers) f.get(10, TimeUnit.SECONDS);
        pool.shutdown();
        assertTrue(room.sold() > 5, "ten unguarded buyers sold " + room.sold() + " of 5");
    }
}
