package dev.locking.core;

/**
 * Lets an integration keep {@code execute}'s keys past the end of its job, until the unit of work
 * the job wrote in has ended. The Spring Boot starter uses it to release after the commit of a
 * transaction that is active around {@code execute}: releasing at the end of the job, before that
 * commit, would let the next holder read the data as it was before this holder's writes.
 *
 * <p>Set it with {@link LockingModule.Builder#releaseDeferral}. Without one, {@code execute}
 * releases as soon as its job returns or throws.
 */
@FunctionalInterface
public interface ReleaseDeferral {

    /**
     * Called on the caller's thread when {@code execute}'s job has returned (with its lease still
     * valid) or thrown. Answer false to have {@code execute} release now. Answer true to take the
     * release over: {@code execute} then returns (or rethrows) without releasing, the lease stays
     * renewed, and the integration must call {@link DeferredRelease#release()} once the unit of
     * work has ended, whatever its outcome.
     */
    boolean defer(DeferredRelease release);
}
