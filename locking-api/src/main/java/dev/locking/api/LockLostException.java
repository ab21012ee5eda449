package dev.locking.api;

import java.util.List;

/**
 * The lease of an {@code execute} call was lost while its job ran: a renewal found the lock gone
 * or taken, or could not reach the store before the lease ran out. Thrown after the job returned,
 * so its result must be treated as done without mutual exclusion.
 */
public class LockLostException extends LockingException {
    private static final long serialVersionUID = 1L;

    private final List<String> keys;

    public LockLostException(List<String> keys, String reason) {
        super("Lock lost while the job ran, for keys " + keys + ": " + reason);
        this.keys = List.copyOf(keys);
    }

    /** The keys whose lease was lost. */
    public List<String> keys() {
        return keys;
    }
}
