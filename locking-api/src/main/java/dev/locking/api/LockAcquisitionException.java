package dev.locking.api;

/** A key is held by another owner and the call does not wait. */
public class LockAcquisitionException extends LockingException {
    private static final long serialVersionUID = 1L;

    private final String key;

    /** Message: {@code Failed to acquire lock for key "<key>"}. */
    public LockAcquisitionException(String key) {
        this("Failed to acquire lock for key \"" + key + "\"", key);
    }

    protected LockAcquisitionException(String message, String key) {
        super(message);
        this.key = key;
    }

    /** The first key that was held, or null when not known. */
    public String key() {
        return key;
    }
}
