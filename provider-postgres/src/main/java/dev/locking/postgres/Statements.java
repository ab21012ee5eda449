package dev.locking.postgres;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The statements the provider runs, one resource file each next to this class. The schema name is
 * the only thing spliced in, and it was checked to be a plain identifier; keys, owners and waiter
 * ids are always bound parameters.
 */
final class Statements {
    final String tryAcquire;
    /** The release, which also reports a key it handed to a waiter. */
    final String release;

    final String releaseAll;
    /** Frees the keys one call took, by its grant id (the SPI's undo). */
    final String undo;

    final String renew;
    final String leaveQueue;
    final String schemaPresent;
    /** Removes expired lock rows, dead queue entries and old records of undone calls, a batch of each. */
    final String cleanup;
    /** The server's statement_timeout and idle_in_transaction_session_timeout for this session. */
    final String serverTimeouts;

    final String list;
    /** Refreshes parked waiters; SKIP LOCKED: rows a lock call holds are being refreshed or removed by it. */
    final String refreshWaiters;

    /**
     * Turns off, for the call's own transaction, the server's timeouts that a database or role may
     * set (ALTER ROLE ... SET statement_timeout): the provider bounds its calls itself, and a
     * waiting call would otherwise be cancelled by the server's limit. It must run as a statement of
     * its own before the call, in the same transaction: the server arms a statement's timeout when
     * the statement arrives, so setting it inside the call would come too late. Sent with the call,
     * it costs no round trip.
     */
    static final String GUARD = "SELECT set_config('statement_timeout', '0', true),"
            + " set_config('idle_in_transaction_session_timeout', '0', true);\n";

    /** Whether the lock statements start with {@link #GUARD}: their reply is then the second result. */
    final boolean guarded;

    Statements(String schema) {
        this(schema, PostgresSettings.SynchronousCommit.ON, false);
    }

    /**
     * @param mode {@code OFF}: the lock calls (acquire, release, releaseAll, undo, renew, leaving a queue)
     *     commit with {@code synchronous_commit = off}, set for their transaction only, so they do not
     *     wait for the WAL flush (the {@code synchronous-commit} option); otherwise they wait, except
     *     that with {@code GRANTS} the release function turns it off itself for a lock that had a lease,
     *     and an acquire that did not grant does not wait either
     */
    Statements(String schema, PostgresSettings.SynchronousCommit mode, boolean guarded) {
        this.guarded = guarded;
        String guard = guarded ? GUARD : "";
        boolean synchronousCommit = mode != PostgresSettings.SynchronousCommit.OFF;
        String acquire = load("try-acquire.sql", schema);
        tryAcquire = guard
                + (mode == PostgresSettings.SynchronousCommit.GRANTS
                        ? asyncUnlessGranted(acquire)
                        : commit(acquire, synchronousCommit));
        release = guard + commit(load("release.sql", schema), synchronousCommit);
        releaseAll = guard + commit(load("release-all.sql", schema), synchronousCommit);
        undo = guard + commit(load("undo.sql", schema), synchronousCommit);
        renew = guard + commit(load("renew.sql", schema), synchronousCommit);
        leaveQueue = guard + commit(load("leave-queue.sql", schema), synchronousCommit);
        serverTimeouts = load("server-timeouts.sql", schema);
        cleanup = load("cleanup.sql", schema);
        schemaPresent = load("schema-present.sql", schema);
        list = load("list.sql", schema);
        refreshWaiters = load("refresh-waiters.sql", schema);
    }

    /**
     * The statement, or the statement with {@code synchronous_commit} turned off for its own
     * transaction: the setting is read when the transaction commits, so where {@code set_config}
     * runs in the statement does not matter, and being transaction-local it never outlives the call
     * on a pooled (or PgBouncer) connection.
     */
    private static String commit(String select, boolean synchronousCommit) {
        if (synchronousCommit) return select;
        return "SELECT s.* FROM (" + select + ") AS s CROSS JOIN set_config('synchronous_commit', 'off', true) AS c";
    }

    /**
     * The acquire, committing without waiting for its WAL flush when it did not grant: what such a
     * call writes (its place in a queue, the tidying of stale entries) decides no ownership, and a
     * database crash that forgot it costs that waiter its place, which its next attempt takes again.
     * A blocked waiter's commit then no longer holds the key's advisory lock through a flush that the
     * waiter being handed the key would wait behind.
     */
    private static String asyncUnlessGranted(String select) {
        return "SELECT s.*, CASE WHEN s.granted THEN NULL ELSE set_config('synchronous_commit', 'off', true) END"
                + " AS commit_mode FROM (" + select + ") AS s";
    }

    static String load(String name, String schema) {
        try (InputStream in = Statements.class.getResourceAsStream(name)) {
            if (in == null)
                throw new IllegalStateException("missing resource " + name + " next to " + Statements.class);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim().replace("{schema}", schema);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
