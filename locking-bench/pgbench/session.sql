-- Session mode's uncontended pair, statement for statement as the provider sends a single key's
-- acquire and release on one of its sessions (session-try-one.sql, session-release-one.sql): an
-- advisory lock taken after a look at the waiter queue, then freed with a look for waiters to
-- notify (nothing written).
\set k random(1, 100000)
WITH head AS MATERIALIZED (SELECT q.waiter_id FROM {schema}.locking_waiter q WHERE q.lock_id = 'k' || :k AND q.refreshed_at > clock_timestamp() - 3000 * interval '1 millisecond' ORDER BY q.ticket LIMIT 1), attempt AS MATERIALIZED (SELECT (SELECT waiter_id FROM head) AS ahead, CASE WHEN EXISTS (SELECT 1 FROM head) THEN false ELSE pg_try_advisory_lock(:k) END AS granted) SELECT granted, CASE WHEN granted THEN floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint END, ahead FROM attempt;
WITH serial AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(hashtextextended('k' || :k, 0)) AS quiet), freed AS MATERIALIZED (SELECT pg_advisory_unlock(:k) AS released, quiet FROM serial) SELECT released, (SELECT count(*) FROM (SELECT pg_notify('locking_{schema}', 'k' || :k) WHERE NOT freed.quiet OR EXISTS (SELECT 1 FROM {schema}.locking_waiter q WHERE q.lock_id = 'k' || :k)) n) FROM freed;
