-- A fast path for the common call: one key that is free, or that the caller is first in line for.
--
-- Measured (locking-bench/NOTES.md): the V3 functions spent most of their time not writing or
-- committing but starting their statements: each statement of a plpgsql function is an executor
-- start-up (and, with changing parameters, often a fresh plan), and V3 ran about eight of them per
-- acquire (the serialiser as a nested function call, the replay check, the dead-waiter sweep, the
-- row read, the queue-head read, the upsert through a CTE and an aggregate). The fast path runs one
-- statement for an uncontended acquire (the upsert, which checks the queue and the old row itself),
-- two for a waiter taking its turn (the upsert, then leaving its queue), and one for a release;
-- everything else is an expression plpgsql evaluates without the executor.
--
-- The V3 functions stay, renamed *_general, and every other case goes to them unchanged: several
-- keys, a held key for a waiter (which must queue) or for its owner (re-entry), a queue whose
-- head is somebody else. A caller that does not wait, finding the key held, is answered by the
-- fast path with one more read. The fast path takes the advisory lock the serialiser would take (it is
-- re-entrant within the transaction, so handing over after taking it is safe), and it grants only
-- where the general function would have granted: no live row, and no queue or this caller at its
-- head. A stale head (a dead process) goes the general way, which drops it.
--
-- Signatures are kept, so a provider built for V3 runs on V4; locking_release gains an optional
-- fourth argument (below).

ALTER FUNCTION "${flyway:defaultSchema}".locking_try_acquire(text[], text, bigint, text, text, bigint, integer)
    RENAME TO locking_try_acquire_general;
ALTER FUNCTION "${flyway:defaultSchema}".locking_release(text[], text, integer)
    RENAME TO locking_release_general;

CREATE FUNCTION "${flyway:defaultSchema}".locking_try_acquire(
        p_keys text[], p_owner text, p_lease_ms bigint, p_waiter text, p_grant text,
        p_waiter_stale_ms bigint, p_lock_timeout_ms integer,
        OUT granted boolean, OUT tokens bigint[], OUT expires_at timestamptz,
        OUT blocked_key text, OUT retry_after_ms bigint, OUT ahead_waiter text)
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_key text;
    v_now timestamptz;
    v_token bigint;
    v_owner text;
    v_expiration timestamptz;
    v_grant text;
    v_setting text;
BEGIN
    -- One key, the isolation the serialiser demands (it raises the error otherwise), and the key's
    -- advisory lock free right now (else the serialiser waits for it).
    IF cardinality(p_keys) = 1 AND current_setting('transaction_isolation') = 'read committed' THEN
        v_key := p_keys[1];
        IF pg_try_advisory_xact_lock(hashtextextended(v_key, 0)) THEN
            IF p_lock_timeout_ms IS NOT NULL THEN
                -- As the serialiser does: bounds the row-lock wait of the upsert.
                v_setting := set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
            END IF;
            v_now := clock_timestamp();
            -- Inserts when nobody else is first in line (a fresh head: a stale one goes the general
            -- way), and replaces an existing row only if its lease has run out. A live row, held by
            -- anyone, is left alone and the statement returns nothing.
            INSERT INTO "${flyway:defaultSchema}".locking AS l (id, owner_id, expiration, fencing_token, grant_id)
            SELECT v_key, p_owner, v_now + p_lease_ms * interval '1 millisecond',
                   nextval('"${flyway:defaultSchema}".locking_fencing_token_seq'), p_grant
             WHERE NOT EXISTS (
                   SELECT 1 FROM (
                       SELECT w.waiter_id, w.refreshed_at FROM "${flyway:defaultSchema}".locking_waiter w
                        WHERE w.lock_id = v_key ORDER BY w.ticket LIMIT 1) AS head
                    WHERE head.waiter_id IS DISTINCT FROM p_waiter
                       OR head.refreshed_at <= v_now - p_waiter_stale_ms * interval '1 millisecond')
            ON CONFLICT (id) DO UPDATE SET
                owner_id = excluded.owner_id,
                expiration = excluded.expiration,
                fencing_token = excluded.fencing_token,
                grant_id = excluded.grant_id
             WHERE l.expiration <= v_now
            RETURNING l.fencing_token, l.expiration INTO v_token, expires_at;
            IF FOUND THEN
                IF p_waiter IS NOT NULL THEN
                    DELETE FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = p_waiter;
                END IF;
                granted := true;
                tokens := ARRAY[v_token];
                RETURN;
            END IF;
            -- Not granted. A caller that does not wait (or not yet: a waiter's first attempt comes
            -- without its id) is answered here when the key is held live by someone else, or by
            -- this very attempt (a retry after a lost reply): one more read instead of the general
            -- function. Many callers arriving at once on a held key then cost one statement each.
            IF p_waiter IS NULL THEN
                SELECT l.owner_id, l.expiration, l.grant_id, l.fencing_token
                  INTO v_owner, v_expiration, v_grant, v_token
                  FROM "${flyway:defaultSchema}".locking l WHERE l.id = v_key;
                IF FOUND AND (v_expiration IS NULL OR v_expiration > v_now) THEN
                    IF p_grant IS NOT NULL AND v_grant = p_grant THEN
                        granted := true;
                        tokens := ARRAY[v_token];
                        expires_at := v_expiration;
                        RETURN;
                    END IF;
                    IF p_owner IS NULL OR v_owner IS DISTINCT FROM p_owner THEN
                        granted := false;
                        blocked_key := v_key;
                        retry_after_ms := ceil(extract(epoch FROM v_expiration - v_now) * 1000);
                        RETURN;
                    END IF;
                END IF;
            END IF;
        END IF;
    END IF;
    SELECT g.granted, g.tokens, g.expires_at, g.blocked_key, g.retry_after_ms, g.ahead_waiter
      INTO granted, tokens, expires_at, blocked_key, retry_after_ms, ahead_waiter
      FROM "${flyway:defaultSchema}".locking_try_acquire_general(
               p_keys, p_owner, p_lease_ms, p_waiter, p_grant, p_waiter_stale_ms, p_lock_timeout_ms) AS g;
END $$;

-- Release of one key: one DELETE that frees the key if this owner holds it (and tidies it if its
-- lease has run out), and says in the same statement whether anyone is queued for it.
--
-- p_async_leased  true: when the freed lock had a lease, this transaction commits without waiting
--                 for its WAL flush. A database crash can then forget the release, and the lock is
--                 held again after recovery, until its lease ends; it is never held twice, because
--                 the next acquire of the key commits durably, and its flush carries this release's
--                 WAL with it. A lock without a lease is always released durably: forgetting that
--                 release would hold the key until its owner came back.
CREATE FUNCTION "${flyway:defaultSchema}".locking_release(
        p_keys text[], p_owner text, p_lock_timeout_ms integer, p_async_leased boolean DEFAULT false)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_key text;
    v_now timestamptz;
    v_mine boolean;
    v_leased boolean;
    v_queued boolean;
    v_setting text;
BEGIN
    -- The same entry as locking_try_acquire's, written out rather than shared: a helper would be a
    -- nested plpgsql call, the very cost this path removes.
    IF cardinality(p_keys) = 1 AND current_setting('transaction_isolation') = 'read committed' THEN
        v_key := p_keys[1];
        IF pg_try_advisory_xact_lock(hashtextextended(v_key, 0)) THEN
            IF p_lock_timeout_ms IS NOT NULL THEN
                v_setting := set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
            END IF;
            v_now := clock_timestamp();
            DELETE FROM "${flyway:defaultSchema}".locking l
             WHERE l.id = v_key
               AND (l.expiration <= v_now
                    OR (l.owner_id IS NOT DISTINCT FROM p_owner AND (l.expiration IS NULL OR l.expiration > v_now)))
            RETURNING l.expiration IS NULL OR l.expiration > v_now, l.expiration IS NOT NULL,
                      EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_waiter w WHERE w.lock_id = v_key)
                 INTO v_mine, v_leased, v_queued;
            IF NOT FOUND OR NOT v_mine THEN
                RETURN false;
            END IF;
            IF p_async_leased AND v_leased THEN
                v_setting := set_config('synchronous_commit', 'off', true);
            END IF;
            IF v_queued THEN
                PERFORM pg_notify('locking_${flyway:defaultSchema}', v_key);
            END IF;
            RETURN true;
        END IF;
    END IF;
    RETURN "${flyway:defaultSchema}".locking_release_general(p_keys, p_owner, p_lock_timeout_ms);
END $$;
