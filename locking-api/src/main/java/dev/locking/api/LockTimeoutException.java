package dev.locking.api;

/** The wait for a key ran past the call's {@code timeout}. Message: {@code Timed-out acquiring lock.} */
public class LockTimeoutException extends LockAcquisitionException {
    private static final long serialVersionUID = 1L;

    /** @param key the key still held when the wait ended */
    public LockTimeoutException(String key) {
        super("Timed-out acquiring lock.", key);
    }
}
