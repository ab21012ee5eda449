-- Group commit, estimated: four callers' acquires in one statement (one transaction, one flush),
-- then their four releases one by one. Each transaction counts 4 pairs.
\set k0 random(1, 100000)
\set k1 random(1, 100000)
\set k2 random(1, 100000)
\set k3 random(1, 100000)
\set g random(1, 2000000000)
SELECT (a0).granted, (a1).granted, (a2).granted, (a3).granted FROM (SELECT {schema}.locking_try_acquire(ARRAY['k' || :k0], 'bench-' || :client_id || '-0', 30000, NULL, 'g0-' || :g, 3000, 2000) AS a0, {schema}.locking_try_acquire(ARRAY['k' || :k1], 'bench-' || :client_id || '-1', 30000, NULL, 'g1-' || :g, 3000, 2000) AS a1, {schema}.locking_try_acquire(ARRAY['k' || :k2], 'bench-' || :client_id || '-2', 30000, NULL, 'g2-' || :g, 3000, 2000) AS a2, {schema}.locking_try_acquire(ARRAY['k' || :k3], 'bench-' || :client_id || '-3', 30000, NULL, 'g3-' || :g, 3000, 2000) AS a3) AS t;
SELECT {schema}.locking_release(ARRAY['k' || :k0], 'bench-' || :client_id || '-0', 2000, true);
SELECT {schema}.locking_release(ARRAY['k' || :k1], 'bench-' || :client_id || '-1', 2000, true);
SELECT {schema}.locking_release(ARRAY['k' || :k2], 'bench-' || :client_id || '-2', 2000, true);
SELECT {schema}.locking_release(ARRAY['k' || :k3], 'bench-' || :client_id || '-3', 2000, true);
