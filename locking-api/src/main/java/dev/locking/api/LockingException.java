package dev.locking.api;

/**
 * Root of every exception this library throws on purpose (misuse aside, which gets the JDK's
 * {@link IllegalArgumentException}). A provider that cannot reach its store throws it directly,
 * with the provider and the next step in the message.
 */
public class LockingException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LockingException(String message) {
        super(message);
    }

    public LockingException(String message, Throwable cause) {
        super(message, cause);
    }
}
