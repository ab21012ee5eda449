UPDATE "{schema}".locking_waiter w SET refreshed_at = clock_timestamp()
FROM (SELECT lock_id, waiter_id FROM "{schema}".locking_waiter WHERE waiter_id = ANY(?) FOR UPDATE SKIP LOCKED) s
WHERE w.lock_id = s.lock_id AND w.waiter_id = s.waiter_id
