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
    final String release;
    final String releaseAll;
    final String renew;
    final String leaveQueue;
    final String schemaPresent;
    final String list;
    /** Refreshes parked waiters; SKIP LOCKED: rows a lock call holds are being refreshed or removed by it. */
    final String refreshWaiters;

    Statements(String schema) {
        tryAcquire = load("try-acquire.sql", schema);
        release = load("release.sql", schema);
        releaseAll = load("release-all.sql", schema);
        renew = load("renew.sql", schema);
        leaveQueue = load("leave-queue.sql", schema);
        schemaPresent = load("schema-present.sql", schema);
        list = load("list.sql", schema);
        refreshWaiters = load("refresh-waiters.sql", schema);
    }

    private static String load(String name, String schema) {
        try (InputStream in = Statements.class.getResourceAsStream(name)) {
            if (in == null)
                throw new IllegalStateException("missing resource " + name + " next to " + Statements.class);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).trim().replace("{schema}", schema);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
