-- The floor of a lock with one durable write per acquire: ShedLock's two statements, the release
-- committed without waiting for its flush (what synchronous-commit = grants does). No queue, no
-- fencing token, no function: any durable row-per-lock design costs at least this.
\set k random(1, 100000)
UPDATE {schema}.shedlock SET lock_until = now() + interval '30 s', locked_at = now(), locked_by = 'bench-' || :client_id WHERE name = 'k' || :k AND lock_until <= now();
UPDATE {schema}.shedlock SET lock_until = now() WHERE name = 'k' || :k AND set_config('synchronous_commit', 'off', true) = 'off';
