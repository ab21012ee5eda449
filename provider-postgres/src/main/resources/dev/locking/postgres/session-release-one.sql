-- Session mode's common release, one key, as one plain statement: unlocks, and notifies the key's
-- channel only when a waiter may need it, so a release nobody waits for writes nothing. A waiter
-- that is joining the queue right now holds the key's transaction-scoped lock until it commits; the
-- entry it writes is not in this statement's snapshot, so a busy transaction lock counts as a waiter.
WITH serial AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtextextended(?, 0)) AS quiet),
freed AS MATERIALIZED (
    SELECT pg_advisory_unlock(?) AS released, quiet FROM serial)
SELECT released,
       (SELECT count(*)
          FROM (SELECT pg_notify('locking_{schema}', ?)
                 WHERE NOT freed.quiet
                    OR EXISTS (SELECT 1 FROM "{schema}".locking_waiter q WHERE q.lock_id = ?)) n)
  FROM freed
