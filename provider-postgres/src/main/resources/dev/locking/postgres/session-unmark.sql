-- A waiter's marks (session-mark.sql) given up when it stops waiting; the answer counts those that
-- were held.
SELECT count(*) FILTER (WHERE freed)
  FROM (SELECT pg_advisory_unlock_shared(m.hi, m.lo) AS freed FROM unnest(?::int[], ?::int[]) AS m(hi, lo)) x
