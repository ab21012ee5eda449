-- The single-key fast path, completed: it now answers every single-key call except re-entry by the
-- owner and a stale queue head (a dead process), which still go to the general functions.
--
-- Measured on hand-over (locking-bench/NOTES.md): when a holder released a key with a waiter, the
-- releaser's next call (the key is free but reserved for the waiter) and then its enqueue went to
-- the general function, several statements each, holding the key's advisory lock; the waiter,
-- woken meanwhile, found that lock busy and went the general way as well. Now:
--
-- 1. A key whose advisory lock is busy is waited for (the serialiser, same bound) and then decided
--    here, instead of going to the general function.
-- 2. A caller finding the key free but reserved for a live waiter is answered with the waiter's id
--    (to wake it if it is local), and a waiter blocked on a held or reserved key is enqueued with
--    one INSERT. The general function did the same, plus a sweep of stale queue entries, which
--    still happens when a stale entry reaches the head of the queue.
--
-- Signatures are unchanged, so a provider built for V4 runs on V5 and the reverse.

CREATE OR REPLACE FUNCTION "${flyway:defaultSchema}".locking_try_acquire(
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
    v_head text;
    v_refreshed timestamptz;
BEGIN
    -- One key, the isolation the serialiser demands (it raises the error otherwise), and the key's
    -- advisory lock free right now (else the serialiser waits for it).
    IF cardinality(p_keys) = 1 AND current_setting('transaction_isolation') = 'read committed' THEN
        v_key := p_keys[1];
        IF NOT pg_try_advisory_xact_lock(hashtextextended(v_key, 0)) THEN
            -- Busy right now (another call on this key is running): wait for it as the general
            -- function would, within the same bound, then decide here. Each statement below reads
            -- what that call committed.
            PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
        ELSIF p_lock_timeout_ms IS NOT NULL THEN
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
        -- Not granted: the key is held live, or free with somebody else (or a stale entry) first
        -- in line. Answered here with one read (two when the key is free), plus the enqueue of
        -- a waiter; the general function is left the cases that need it: re-entry by the
        -- owner, and a stale queue head, which it drops.
        SELECT l.owner_id, l.expiration, l.grant_id, l.fencing_token
          INTO v_owner, v_expiration, v_grant, v_token
          FROM "${flyway:defaultSchema}".locking l WHERE l.id = v_key;
        IF FOUND AND (v_expiration IS NULL OR v_expiration > v_now) THEN
            -- A retry of this very attempt after a lost reply.
            IF p_grant IS NOT NULL AND v_grant = p_grant THEN
                granted := true;
                tokens := ARRAY[v_token];
                expires_at := v_expiration;
                RETURN;
            END IF;
            IF p_owner IS NULL OR v_owner IS DISTINCT FROM p_owner THEN
                blocked_key := v_key;
                retry_after_ms := ceil(extract(epoch FROM v_expiration - v_now) * 1000);
            END IF;
        ELSE
            SELECT w.waiter_id, w.refreshed_at INTO v_head, v_refreshed
              FROM "${flyway:defaultSchema}".locking_waiter w
             WHERE w.lock_id = v_key ORDER BY w.ticket LIMIT 1;
            IF FOUND AND v_head IS DISTINCT FROM p_waiter
                    AND v_refreshed > v_now - p_waiter_stale_ms * interval '1 millisecond' THEN
                blocked_key := v_key;
                ahead_waiter := v_head;
            END IF;
        END IF;
        IF blocked_key IS NOT NULL THEN
            granted := false;
            IF p_waiter IS NOT NULL THEN
                -- Joins the queue, or keeps its place: one ticket per waiter, as the general
                -- function gives.
                INSERT INTO "${flyway:defaultSchema}".locking_waiter AS w (lock_id, waiter_id, ticket, refreshed_at)
                VALUES (v_key, p_waiter,
                        coalesce((SELECT min(o.ticket) FROM "${flyway:defaultSchema}".locking_waiter o
                                   WHERE o.waiter_id = p_waiter),
                                 nextval('"${flyway:defaultSchema}".locking_waiter_ticket_seq')),
                        v_now)
                ON CONFLICT (lock_id, waiter_id) DO UPDATE SET refreshed_at = excluded.refreshed_at;
            END IF;
            RETURN;
        END IF;
    END IF;
    SELECT g.granted, g.tokens, g.expires_at, g.blocked_key, g.retry_after_ms, g.ahead_waiter
      INTO granted, tokens, expires_at, blocked_key, retry_after_ms, ahead_waiter
      FROM "${flyway:defaultSchema}".locking_try_acquire_general(
               p_keys, p_owner, p_lease_ms, p_waiter, p_grant, p_waiter_stale_ms, p_lock_timeout_ms) AS g;
END $$;


-- Release of one key: as in V4, and a busy key's advisory lock is waited for here too.
CREATE OR REPLACE FUNCTION "${flyway:defaultSchema}".locking_release(
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
    -- nested plpgsql call, the very cost this path removes (paid here only when the key is busy).
    IF cardinality(p_keys) = 1 AND current_setting('transaction_isolation') = 'read committed' THEN
        v_key := p_keys[1];
        IF NOT pg_try_advisory_xact_lock(hashtextextended(v_key, 0)) THEN
            PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
        ELSIF p_lock_timeout_ms IS NOT NULL THEN
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
    RETURN "${flyway:defaultSchema}".locking_release_general(p_keys, p_owner, p_lock_timeout_ms);
END $$;
