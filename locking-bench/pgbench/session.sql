-- Session mode's uncontended pair, statement for statement as the provider sends a single key's
-- acquire and release on one of its sessions when no waiter has marked the key
-- (session-try-fast.sql, session-release-one.sql): the advisory lock tried after a try of the key's
-- waiter mark, then freed with a second try of the mark to learn whether to notify (nothing written).
\set k random(1, 100000)
SELECT granted, CASE WHEN granted THEN floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint END, 'k' || :k FROM (SELECT CASE WHEN pg_try_advisory_xact_lock(0, :k) THEN pg_try_advisory_lock(:k) END AS granted OFFSET 0) t;
SELECT released, CASE WHEN released AND NOT pg_try_advisory_xact_lock(0, :k) THEN pg_notify('locking_{schema}', 'k' || :k) END FROM (SELECT pg_advisory_unlock(:k) AS released OFFSET 0) u;
