package dev.locking.spring.boot;

import dev.locking.api.LockLostException;
import dev.locking.core.DeferredRelease;
import dev.locking.core.ReleaseDeferral;
import dev.locking.spi.Printable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.Ordered;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Holds the keys of an {@code execute} called inside an active Spring transaction until that
 * transaction has ended. Released when the job returns, they would be free while the transaction
 * still has to commit: the next holder would read the data as it was before this holder's writes
 * and write over them (a stock of 100 sold 125 times). Just before the commit it asks the store
 * whether the keys are still held, and fails the commit (the transaction rolls back) when the lease
 * was lost.
 */
final class ReleaseAfterCommit implements ReleaseDeferral {
    private static final Logger log = LoggerFactory.getLogger(ReleaseAfterCommit.class);

    @Override
    public boolean defer(DeferredRelease release) {
        if (!TransactionSynchronizationManager.isSynchronizationActive()
                || !TransactionSynchronizationManager.isActualTransactionActive()) return false;
        TransactionSynchronizationManager.registerSynchronization(new ReleaseOnCompletion(release));
        return true;
    }

    private record ReleaseOnCompletion(DeferredRelease release) implements TransactionSynchronization {
        @Override
        public void beforeCommit(boolean readOnly) {
            if (!release.confirm())
                throw new LockLostException(
                        release.keys(),
                        "the lease in " + release.provider()
                                + " was lost before the transaction committed, so it rolls back");
        }

        @Override
        public void afterCompletion(int status) {
            release.release()
                    .ifPresent(lost -> log.warn(
                            "Lease of {} in {} was lost before the transaction ended",
                            Printable.escape(String.valueOf(release.keys())),
                            release.provider(),
                            lost));
        }

        /** Last: the other synchronizations' work before the commit happens under the lock too. */
        @Override
        public int getOrder() {
            return Ordered.LOWEST_PRECEDENCE;
        }
    }

    @Override
    public String toString() {
        return "release after the commit of the active Spring transaction";
    }
}
