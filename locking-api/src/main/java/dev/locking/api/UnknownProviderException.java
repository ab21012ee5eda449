package dev.locking.api;

import java.util.List;

/** A call named a provider that is not registered. The message lists the registered ones. */
public class UnknownProviderException extends LockingException {
    private static final long serialVersionUID = 1L;

    private final String provider;
    private final List<String> registered;

    public UnknownProviderException(String provider, List<String> registered) {
        super("Unknown locking provider \"" + provider + "\"; registered: " + String.join(", ", registered)
                + ". Use lp_<id> or <id> of a registration in locking.providers, or an identifier that exactly"
                + " one registration resolves.");
        this.provider = provider;
        this.registered = List.copyOf(registered);
    }

    /** The name the call gave. */
    public String provider() {
        return provider;
    }

    /** The registered providers, as {@code lp_<id> (<identifier>)}. */
    public List<String> registered() {
        return registered;
    }
}
