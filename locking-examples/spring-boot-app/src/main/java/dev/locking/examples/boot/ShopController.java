package dev.locking.examples.boot;

import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockingService;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** The guarded endpoint: one buyer at a time between reading the stock and writing it back. */
@RestController
class ShopController {
    private final LockingService locking;
    private final JdbcTemplate jdbc;

    ShopController(LockingService locking, JdbcTemplate jdbc) {
        this.locking = locking;
        this.jdbc = jdbc;
    }

    /** Sells one unit; the lock is released after this method's transaction commits. */
    @PostMapping("/stock/{product}/buy")
    @Transactional
    public String buy(@PathVariable String product) {
        boolean sold = locking.execute("stock/" + product, lock -> {
            Integer left =
                    jdbc.queryForObject("SELECT left_count FROM stock WHERE product = ?", Integer.class, product);
            if (left == null || left == 0) return false;
            jdbc.update("UPDATE stock SET left_count = ? WHERE product = ?", left - 1, product);
            return true;
        });
        if (!sold) throw new SoldOut(product);
        jdbc.update("INSERT INTO sales (product) VALUES (?)", product);
        return "sold";
    }

    @ResponseStatus(HttpStatus.GONE)
    static final class SoldOut extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SoldOut(String product) {
            super(product + " is sold out");
        }
    }

    /** Another buyer holds the product and the wait ran out: try again. */
    @ExceptionHandler(LockAcquisitionException.class)
    @ResponseStatus(HttpStatus.SERVICE_UNAVAILABLE)
    String busy(LockAcquisitionException e) {
        return e.getMessage();
    }
}
