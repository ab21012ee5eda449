-- A release hands a key to the first waiter in line, in the same transaction, and tells it so in
-- the notification.
--
-- Measured on hand-over (locking-bench/NOTES.md): after the release committed and its
-- notification woke the waiter, the waiter's own acquire was one more round trip and one more
-- durable commit before it could run. Now the release of one key whose queue is headed by a live
-- waiter that waits for that key alone, with a lease, writes the waiter's lock row itself (owner,
-- lease, a new fencing token, grant id "w:<waiter id>"), removes its queue entry, and notifies
-- "<waiter id> <token> <expiry in microseconds> <key>" on the channel locking_g:<schema>. The
-- waiter's process hands that grant to the parked caller, which runs at once. If the notification
-- is lost, the waiter's next attempt finds the row with its id and takes it as its own grant; a
-- waiter that gave up frees such a row in locking_leave_queue.
--
-- Only such waiters: one without a lease would hold a key for ever if its process died between
-- the grant and its pick-up (with a lease, the lease ends it), and one waiting for several keys
-- must get all of them at once. They, and a stale head, are woken as before.
--
-- Signatures are unchanged. A provider built for V5 on this schema still gets every grant: its
-- waiters find their rows on their next attempt (their poll), they only miss the notification.

-- What a grant needs to know about a waiter: null for entries written by the general function.
ALTER TABLE "${flyway:defaultSchema}".locking_waiter
    ADD COLUMN owner_id text NULL,
    ADD COLUMN lease_ms bigint NULL,
    ADD COLUMN stale_ms bigint NULL;

-- The single-key fast path, as in V5, plus: a waiter with a lease is enqueued with its owner, lease
-- and staleness, and an attempt of a waiter that finds the key handed to it by a release takes it.
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
            -- Handed to this waiter by a release (see locking_release) and not yet picked up
            -- from the notification (lost, or the waiter woke for another reason): it is this
            -- attempt's grant now. The lease is counted again from now, so that it never ends
            -- before the caller, which started this attempt after the grant, expects.
            IF p_waiter IS NOT NULL AND v_grant = 'w:' || p_waiter THEN
                UPDATE "${flyway:defaultSchema}".locking l
                   SET expiration = coalesce(v_now + p_lease_ms * interval '1 millisecond', l.expiration),
                       grant_id = p_grant
                 WHERE l.id = v_key
                RETURNING l.expiration INTO expires_at;
                DELETE FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = p_waiter;
                granted := true;
                tokens := ARRAY[v_token];
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
                -- A waiter with a lease can be handed the key by the release that frees it: its
                -- entry carries what the grant needs (owner, lease, when it counts as dead).
                INSERT INTO "${flyway:defaultSchema}".locking_waiter AS w
                       (lock_id, waiter_id, ticket, refreshed_at, owner_id, lease_ms, stale_ms)
                VALUES (v_key, p_waiter,
                        coalesce((SELECT min(o.ticket) FROM "${flyway:defaultSchema}".locking_waiter o
                                   WHERE o.waiter_id = p_waiter),
                                 nextval('"${flyway:defaultSchema}".locking_waiter_ticket_seq')),
                        -- (a waiter id with a space could not be told apart from the token in the
                        -- notification; core's never have one)
                        v_now, p_owner, CASE WHEN strpos(p_waiter, ' ') = 0 THEN p_lease_ms END,
                        p_waiter_stale_ms)
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


-- Release of one key: as in V5, plus the hand-over to the first waiter in line described above.
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
    v_head record;
    v_token bigint;
    v_expiration timestamptz;
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
        IF v_queued THEN
            -- The first in line, if it is alive and waits for this key alone with a lease, is
            -- handed the key in this transaction: the row is its lock, and the notification on
            -- the grants channel tells its process the token and the expiry, so it starts without
            -- another round trip. The grant is committed durably, like any grant (no
            -- synchronous_commit = off below). Anyone else first in line is woken to try.
            SELECT w.waiter_id, w.owner_id, w.lease_ms, w.stale_ms, w.refreshed_at INTO v_head
              FROM "${flyway:defaultSchema}".locking_waiter w
             WHERE w.lock_id = v_key ORDER BY w.ticket LIMIT 1;
            IF v_head.lease_ms IS NOT NULL
                    AND v_head.refreshed_at > v_now - v_head.stale_ms * interval '1 millisecond'
                    AND NOT EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_waiter o
                                     WHERE o.waiter_id = v_head.waiter_id AND o.lock_id <> v_key) THEN
                INSERT INTO "${flyway:defaultSchema}".locking (id, owner_id, expiration, fencing_token, grant_id)
                VALUES (v_key, v_head.owner_id, v_now + v_head.lease_ms * interval '1 millisecond',
                        nextval('"${flyway:defaultSchema}".locking_fencing_token_seq'), 'w:' || v_head.waiter_id)
                RETURNING fencing_token, expiration INTO v_token, v_expiration;
                DELETE FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = v_head.waiter_id;
                -- Payload: waiter id, token, expiry in microseconds since the epoch, key (last: a
                -- key may hold spaces; waiter ids never do).
                PERFORM pg_notify('locking_g:${flyway:defaultSchema}',
                                  v_head.waiter_id || ' ' || v_token || ' '
                                  || (extract(epoch FROM v_expiration) * 1000000)::bigint || ' ' || v_key);
                RETURN true;
            END IF;
            PERFORM pg_notify('locking_${flyway:defaultSchema}', v_key);
        END IF;
        IF p_async_leased AND v_leased THEN
            v_setting := set_config('synchronous_commit', 'off', true);
        END IF;
        RETURN true;
    END IF;
    RETURN "${flyway:defaultSchema}".locking_release_general(p_keys, p_owner, p_lock_timeout_ms);
END $$;


-- Removes a waiter that gave up, and frees a key a release handed to it meanwhile (the waiter
-- will not run: the caller was told it failed). Keys it leaves with other waiters, or frees, are
-- announced: the next one may be first in line now.
CREATE OR REPLACE FUNCTION "${flyway:defaultSchema}".locking_leave_queue(
        p_keys text[], p_waiter text, p_lock_timeout_ms integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_left text[];
    v_freed text[];
BEGIN
    PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
    WITH removed AS (
        DELETE FROM "${flyway:defaultSchema}".locking_waiter
         WHERE lock_id = ANY (p_keys) AND waiter_id = p_waiter
        RETURNING lock_id)
    -- The statement sees the table as it was before its own DELETE, hence the waiter_id test.
    SELECT array_agg(lock_id) INTO v_left FROM removed r
     WHERE EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_waiter w
                    WHERE w.lock_id = r.lock_id AND w.waiter_id <> p_waiter);
    WITH freed AS (
        DELETE FROM "${flyway:defaultSchema}".locking l
         WHERE l.id = ANY (p_keys) AND l.grant_id = 'w:' || p_waiter
        RETURNING l.id)
    SELECT array_agg(id) INTO v_freed FROM freed;
    IF v_left IS NOT NULL OR v_freed IS NOT NULL THEN
        PERFORM "${flyway:defaultSchema}".locking_notify(
            ARRAY(SELECT DISTINCT k FROM unnest(coalesce(v_left, '{}') || coalesce(v_freed, '{}')) AS k));
    END IF;
END $$;
