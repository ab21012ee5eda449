package dev.locking.core;

import dev.locking.api.LockLostException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/** The release of one execute call, handed to a {@link ReleaseDeferral}; runs at most once. */
final class ExecuteRelease implements DeferredRelease {
    private final String provider;
    private final ExecuteContext context;
    private final Supplier<LockLostException> end;
    private final AtomicBoolean done = new AtomicBoolean();

    ExecuteRelease(String provider, ExecuteContext context, Supplier<LockLostException> end) {
        this.provider = provider;
        this.context = context;
        this.end = end;
    }

    @Override
    public String provider() {
        return provider;
    }

    @Override
    public List<String> keys() {
        return context.keys();
    }

    @Override
    public boolean isLost() {
        return context.isLost();
    }

    @Override
    public boolean confirm() {
        if (!done.get()) context.renewNow();
        return !context.isLost();
    }

    @Override
    public Optional<LockLostException> release() {
        if (!done.compareAndSet(false, true)) return Optional.empty();
        return Optional.ofNullable(end.get());
    }

    /** Takes the release back before it ran; false when it has run (or is running) already. */
    boolean cancel() {
        return done.compareAndSet(false, true);
    }

    @Override
    public String toString() {
        return "release of " + context.keys() + " in " + provider;
    }
}
