-- Session mode's hand-over within a process, run on the session that holds the key's lock: when the
-- key's first live waiter is one of this process's (the candidates), it is taken out of the queues
-- and the lock stays on the session for it, with a new fencing token read after the queue (the
-- clock, as an acquire reads it). Otherwise nothing changes, and the caller releases the key.
WITH head AS MATERIALIZED (
    SELECT q.waiter_id FROM "{schema}".locking_waiter q
     WHERE q.lock_id = ? AND q.refreshed_at > clock_timestamp() - ? * interval '1 millisecond'
     ORDER BY q.ticket
     LIMIT 1),
taken AS MATERIALIZED (
    DELETE FROM "{schema}".locking_waiter q USING head
     WHERE q.waiter_id = head.waiter_id AND head.waiter_id = ANY (?)
    RETURNING q.waiter_id)
SELECT (SELECT min(waiter_id) FROM taken), floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint
