-- A waiter's marks, one per key, held on a session of its process while it waits: shared advisory
-- locks in the two-integer key space (the key's 64-bit lock id split in two), which any number of
-- waiters hold at once. An acquire's fast path (session-try-fast.sql) and the single-key release
-- (session-release-one.sql) try a mark exclusively, for one statement, and so see every waiter
-- without reading the queue. Those statements never wait, so this one waits on them only for as long
-- as one of them runs.
SELECT count(*) FROM (SELECT pg_advisory_lock_shared(m.hi, m.lo) FROM unnest(?::int[], ?::int[]) AS m(hi, lo)) x
