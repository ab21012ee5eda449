-- Session mode's uncontended acquire, one key, for a caller no waiter of any process is ahead of:
-- the advisory lock alone, with no look at the waiter queue. A waiter marks the key (a shared
-- advisory lock in the two-integer key space, session-mark.sql) before it joins the key's queue and
-- keeps the mark while it waits; this statement tries the mark exclusively, for itself only. A busy
-- mark answers granted = NULL, and the caller asks the queue (session-try-one.sql). The subquery is
-- not flattened (OFFSET 0), so the clock, the fencing token's low bits, is read after the lock. The
-- key itself comes along, unused, so that the statement names its key wherever it is seen (server
-- logs, a proxy), as every other statement of the provider does.
SELECT granted, CASE WHEN granted THEN floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint END, ?::text
  FROM (SELECT CASE WHEN pg_try_advisory_xact_lock(?, ?) THEN pg_try_advisory_lock(?) END AS granted OFFSET 0) t
