-- Fencing tokens floored at the database clock (issue 17 item 3), for the PostgreSQL provider's
-- next migration. ${flyway:defaultSchema} is the provider's schema, as in its other migrations.
--
-- 1. One function hands out every fencing token.
CREATE OR REPLACE FUNCTION "${flyway:defaultSchema}".locking_next_fencing_token() RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    -- The sequence is the high-water mark of the tokens issued on this server: it keeps them
    -- growing on one server whatever its clock does (a step backwards included).
    v_next  bigint := nextval('"${flyway:defaultSchema}".locking_fencing_token_seq');
    -- The clock, in microseconds since 1970, keeps them growing where the sequence lost its latest
    -- values: a failover to an asynchronous replica, a restore from a backup. It assumes the new
    -- server's clock reads later than the old one's did at its last grant: that the clocks differ
    -- by less than the time from the old primary's last grant to the new primary's first.
    v_clock bigint := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
BEGIN
    IF v_next >= v_clock THEN
        RETURN v_next;
    END IF;
    -- Behind the clock (always, in steady running: the clock outruns the lock rate): move the
    -- high-water mark up to the token handed out. setval is not transactional and two sessions
    -- may race here; the loser can only set the mark back by the microseconds between their two
    -- clock readings, and the next call's clock reading is past both.
    PERFORM setval('"${flyway:defaultSchema}".locking_fencing_token_seq', v_clock);
    RETURN v_clock;
END
$$;

-- 2. Every function that draws a token calls it. In the schema as V7 leaves it, three function
--    bodies draw one: locking_try_acquire (the single-key fast path), locking_try_acquire_general
--    and locking_release_reporting (the hand-over to a waiter). In each, replace
--        nextval('"${flyway:defaultSchema}".locking_fencing_token_seq')
--    by
--        "${flyway:defaultSchema}".locking_next_fencing_token()
--    and CREATE OR REPLACE the function with the changed body. The column default of
--    locking.fencing_token (V1) is never used by the functions, which always pass a token; change
--    it the same way, or drop it.
