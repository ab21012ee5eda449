-- ShedLock's plain-JDBC provider, as it runs once its row exists (statements read off the server
-- log of ShedLock 6.9.2): two UPDATEs of the key's row, each its own durable commit.
\set k random(1, 100000)
UPDATE {schema}.shedlock SET lock_until = now() + interval '30 s', locked_at = now(), locked_by = 'bench-' || :client_id WHERE name = 'k' || :k AND lock_until <= now();
UPDATE {schema}.shedlock SET lock_until = now() WHERE name = 'k' || :k;
