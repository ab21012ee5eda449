-- The physical limit: a session advisory lock taken and freed (nothing written).
\set k random(1, 100000)
SELECT pg_try_advisory_lock(:k);
SELECT pg_advisory_unlock(:k);
