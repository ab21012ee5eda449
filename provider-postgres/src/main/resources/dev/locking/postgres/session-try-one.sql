-- Session mode's common acquire, one free key for a caller that does not wait, as one plain
-- statement (a plpgsql call costs more than the lock): the key's first live waiter, if any, keeps
-- it; else the advisory lock is tried. The CTEs are materialised, so the lock is tried only after
-- the queue was read, and the clock (the fencing token's low bits) is read after the lock.
WITH head AS MATERIALIZED (
    SELECT q.waiter_id FROM "{schema}".locking_waiter q
     WHERE q.lock_id = ? AND q.refreshed_at > clock_timestamp() - ? * interval '1 millisecond'
     ORDER BY q.ticket
     LIMIT 1),
attempt AS MATERIALIZED (
    SELECT (SELECT waiter_id FROM head) AS ahead,
           CASE WHEN EXISTS (SELECT 1 FROM head) THEN false ELSE pg_try_advisory_lock(?) END AS granted)
SELECT granted, CASE WHEN granted THEN floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint END, ahead
  FROM attempt
