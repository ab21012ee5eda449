-- Session mode's uncontended pair, statement for statement as the provider sends them on one of its
-- sessions: an advisory lock taken after a look at the waiter queue, then freed (nothing written).
\set k random(1, 100000)
SELECT granted, token, blocked_key, ahead_waiter FROM {schema}.locking_session_acquire(ARRAY['k' || :k], ARRAY['k' || :k], ARRAY[:k::bigint], NULL, 3000, NULL);
SELECT {schema}.locking_session_release(ARRAY['k' || :k], ARRAY[:k::bigint]);
