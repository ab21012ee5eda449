-- The serialiser again, with two changes; every lock function calls it, so they all get them.
--
-- 1. One deadline for the whole call: p_lock_timeout_ms bounds the total wait for the advisory
--    locks of all keys, not each one, so a caller with little time left before its deadline is
--    never held longer than that however many of its keys are busy.
-- 2. A lock timeout names the key it was waiting for (in the error's DETAIL, SQLSTATE 55P03), so
--    the caller reports the key that was actually busy, not the first one of the request.
--
-- The uncontended path takes pg_try_advisory_xact_lock and enters no exception block (no
-- subtransaction); only a key that is busy right now waits inside one.
CREATE OR REPLACE FUNCTION "${flyway:defaultSchema}".locking_serialise(p_keys text[], p_lock_timeout_ms integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_hash bigint;
    v_key text;
    v_deadline timestamptz;
    v_left_ms bigint;
BEGIN
    -- Under REPEATABLE READ the function would decide on a snapshot taken before it waited for
    -- the advisory locks; refuse rather than answer from stale data.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'dev.locking lock functions need READ COMMITTED isolation, the connection uses %',
            current_setting('transaction_isolation')
            USING ERRCODE = '25000',
                  HINT = 'Hand the locking module a DataSource whose connections use the default isolation level.';
    END IF;
    IF p_lock_timeout_ms IS NOT NULL THEN
        -- Also bounds the row-lock waits of the statement after the advisory locks.
        PERFORM set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
        v_deadline := clock_timestamp() + p_lock_timeout_ms * interval '1 millisecond';
    END IF;
    -- In hash order, as before, so overlapping key sets never deadlock; keys that share a hash
    -- share one lock, named by the least of them.
    FOR v_hash, v_key IN
        SELECT hashtextextended(k, 0), min(k COLLATE "C") FROM unnest(p_keys) AS k GROUP BY 1 ORDER BY 1
    LOOP
        CONTINUE WHEN pg_try_advisory_xact_lock(v_hash);
        IF v_deadline IS NOT NULL THEN
            v_left_ms := ceil(extract(epoch FROM v_deadline - clock_timestamp()) * 1000);
            IF v_left_ms < 1 THEN
                RAISE EXCEPTION 'dev.locking: lock timeout waiting for a key''s advisory lock'
                    USING ERRCODE = 'lock_not_available', DETAIL = v_key;
            END IF;
            PERFORM set_config('lock_timeout', v_left_ms || 'ms', true);
        END IF;
        BEGIN
            PERFORM pg_advisory_xact_lock(v_hash);
        EXCEPTION WHEN lock_not_available THEN
            RAISE EXCEPTION 'dev.locking: lock timeout waiting for a key''s advisory lock'
                USING ERRCODE = 'lock_not_available', DETAIL = v_key;
        END;
    END LOOP;
END $$;
