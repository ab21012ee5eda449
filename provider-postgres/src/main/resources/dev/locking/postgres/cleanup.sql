WITH expired AS (
    SELECT id FROM "{schema}".locking WHERE expiration <= clock_timestamp() LIMIT ? FOR UPDATE SKIP LOCKED),
gone AS (
    DELETE FROM "{schema}".locking l USING expired e WHERE l.id = e.id AND l.expiration <= clock_timestamp()
    RETURNING 1),
dead AS (
    SELECT lock_id, waiter_id FROM "{schema}".locking_waiter
     WHERE refreshed_at <= clock_timestamp() - coalesce(stale_ms, ?) * interval '1 millisecond'
     LIMIT ? FOR UPDATE SKIP LOCKED),
left_queue AS (
    DELETE FROM "{schema}".locking_waiter w USING dead d WHERE w.lock_id = d.lock_id AND w.waiter_id = d.waiter_id
    RETURNING 1),
old_undos AS (
    SELECT grant_id FROM "{schema}".locking_undone WHERE undone_at <= clock_timestamp() - interval '1 day'
     LIMIT ? FOR UPDATE SKIP LOCKED),
forgotten AS (
    DELETE FROM "{schema}".locking_undone u USING old_undos o WHERE u.grant_id = o.grant_id
    RETURNING 1)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM left_queue), (SELECT count(*) FROM forgotten)
