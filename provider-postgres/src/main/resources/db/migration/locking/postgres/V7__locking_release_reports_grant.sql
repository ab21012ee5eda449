-- A release that hands its key to a waiter (V6) also says so in its reply: the waiter's id, the
-- fencing token and the expiry, the same facts as the notification.
--
-- Measured (locking-bench/NOTES.md, session 6): after a release committed, the waiter learnt of its
-- grant only through NOTIFY, which wakes the listening backend, then the listener thread, then the
-- waiter. When the waiter is parked in the releasing process (threads of one application contending
-- for a key), that process now hands the grant over as soon as the release returns, which is after
-- the grant's commit is on disk. The notification is still sent, for waiters of other processes.
--
-- locking_release keeps its signature and answer for providers built for V4-V6, and is now this
-- function's first column.

CREATE FUNCTION "${flyway:defaultSchema}".locking_release_reporting(
        p_keys text[], p_owner text, p_lock_timeout_ms integer, p_async_leased boolean,
        OUT released boolean, OUT handed_to text, OUT handed_token bigint, OUT handed_expires_at timestamptz)
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
            released := false;
            RETURN;
        END IF;
        released := true;
        IF v_queued THEN
            -- The first in line, if it is alive and waits for this key alone with a lease, is
            -- handed the key in this transaction: the row is its lock, and the notification on
            -- the grants channel (and this function's reply, for a waiter of the releasing
            -- process) tells its process the token and the expiry, so it starts without another
            -- round trip. The grant is committed durably, like any grant (no
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
                handed_to := v_head.waiter_id;
                handed_token := v_token;
                handed_expires_at := v_expiration;
                RETURN;
            END IF;
            PERFORM pg_notify('locking_${flyway:defaultSchema}', v_key);
        END IF;
        IF p_async_leased AND v_leased THEN
            v_setting := set_config('synchronous_commit', 'off', true);
        END IF;
        RETURN;
    END IF;
    released := "${flyway:defaultSchema}".locking_release_general(p_keys, p_owner, p_lock_timeout_ms);
END $$;


-- Providers built for V4 to V6 call this one.
CREATE OR REPLACE FUNCTION "${flyway:defaultSchema}".locking_release(
        p_keys text[], p_owner text, p_lock_timeout_ms integer, p_async_leased boolean DEFAULT false)
    RETURNS boolean
    LANGUAGE sql VOLATILE AS $$
    SELECT r.released FROM "${flyway:defaultSchema}".locking_release_reporting(
        p_keys, p_owner, p_lock_timeout_ms, p_async_leased) AS r
$$;
