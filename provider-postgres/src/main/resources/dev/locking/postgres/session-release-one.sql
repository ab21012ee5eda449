-- Session mode's common release, one key, as one plain statement: unlocks, then notifies the key's
-- channel only when a waiter of some process has marked the key (session-mark.sql): a release
-- nobody waits for writes nothing. A waiter marks the key before its attempt that joins the queue,
-- so a release that misses the mark came before that attempt, which then finds the key free. A mark
-- tried at the same instant by another statement counts as a waiter: a spare notification at worst.
SELECT released,
       CASE WHEN released AND NOT pg_try_advisory_xact_lock(?, ?) THEN pg_notify('locking_{schema}', ?) END
  FROM (SELECT pg_advisory_unlock(?) AS released OFFSET 0) u
