-- The provider's uncontended pair, statement for statement as it sends them in the default mode
-- (synchronous-commit = grants): the acquire commits durably, the leased release does not.
\set k random(1, 100000)
\set g random(1, 2000000000)
SELECT s.*, CASE WHEN s.granted THEN NULL ELSE set_config('synchronous_commit', 'off', true) END AS commit_mode FROM (SELECT granted, tokens, expires_at, blocked_key, retry_after_ms, ahead_waiter FROM {schema}.locking_try_acquire(ARRAY['k' || :k], 'bench-' || :client_id, 30000, NULL, 'g' || :g, 3000, 2000)) AS s;
SELECT {schema}.locking_release(ARRAY['k' || :k], 'bench-' || :client_id, 2000, true);
