-- Every lock operation is one of these functions, called as one statement: one round trip, one
-- transaction that commits when the statement ends. Nothing here holds anything across calls; a
-- held lock is a row with a lease, so a pooled connection (PgBouncer transaction mode included)
-- never carries lock state from one caller to the next.
--
-- Names are schema-qualified because the functions run with the caller's search_path.
-- Time is clock_timestamp(), read after the advisory locks are granted: now() is frozen at the
-- start of the transaction, before the wait, and would judge expiry in the past.

-- Serialises every contender for these keys until the calling transaction ends. Transaction-scoped
-- advisory locks, so nothing outlives the statement, on a 64-bit hash of the key, taken in hash
-- order so that overlapping key sets never deadlock even when two keys collide. A collision only
-- makes two unrelated keys queue briefly for each other: ownership is decided by the rows.
CREATE FUNCTION "${flyway:defaultSchema}".locking_serialise(p_keys text[], p_lock_timeout_ms integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_hash bigint;
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
        PERFORM set_config('lock_timeout', p_lock_timeout_ms || 'ms', true);
    END IF;
    FOR v_hash IN SELECT DISTINCT hashtextextended(k, 0) FROM unnest(p_keys) AS k ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(v_hash);
    END LOOP;
END $$;

-- Wakes other processes' waiters: the payload is the key. Delivered when the transaction commits.
CREATE FUNCTION "${flyway:defaultSchema}".locking_notify(p_keys text[])
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_notify('locking_${flyway:defaultSchema}', k) FROM unnest(p_keys) AS k;
END $$;

-- One attempt to take every key of p_keys (sorted, distinct), all or nothing.
--
-- p_owner     null for an anonymous lock, which is never re-entrant
-- p_lease_ms  null for a lock held until released; else the lease from now, in milliseconds
-- p_waiter    null for a caller that does not wait; else its id in the key queues
-- p_grant     an id unique to this attempt, stored with the lock; a retry of the same attempt
--             whose first try committed finds its own grant and reports it again
-- p_waiter_stale_ms  queue entries not refreshed for this long belong to dead processes
--
-- Returns granted = true with one token per key (in p_keys order) and the earliest expiry, or
-- granted = false with the first key that could not be granted, how long its lease still runs and,
-- when it is free but reserved, the waiter it is reserved for. A blocked waiter is enqueued on
-- every key of the request with one ticket.
CREATE FUNCTION "${flyway:defaultSchema}".locking_try_acquire(
        p_keys text[], p_owner text, p_lease_ms bigint, p_waiter text, p_grant text,
        p_waiter_stale_ms bigint, p_lock_timeout_ms integer,
        OUT granted boolean, OUT tokens bigint[], OUT expires_at timestamptz,
        OUT blocked_key text, OUT retry_after_ms bigint, OUT ahead_waiter text)
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
    v_key text;
    v_owner text;
    v_expiration timestamptz;
    v_found boolean;
    v_head text;
    v_ticket bigint;
    v_revived text[];
BEGIN
    PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
    v_now := clock_timestamp();
    granted := false;

    -- A retry of an attempt that already committed: report the same grant.
    IF p_grant IS NOT NULL THEN
        SELECT array_agg(l.fencing_token ORDER BY u.ord), min(l.expiration)
          INTO tokens, expires_at
          FROM unnest(p_keys) WITH ORDINALITY AS u(k, ord)
          JOIN "${flyway:defaultSchema}".locking l ON l.id = u.k
         WHERE l.grant_id = p_grant AND (l.expiration IS NULL OR l.expiration > v_now)
        HAVING count(*) = cardinality(p_keys);
        IF FOUND THEN
            granted := true;
            RETURN;
        END IF;
    END IF;

    -- Queue entries of dead processes would block the key forever.
    WITH dropped AS (
        DELETE FROM "${flyway:defaultSchema}".locking_waiter
         WHERE lock_id = ANY (p_keys)
           AND refreshed_at <= v_now - p_waiter_stale_ms * interval '1 millisecond'
        RETURNING lock_id)
    SELECT array_agg(DISTINCT lock_id) INTO v_revived FROM dropped;

    FOREACH v_key IN ARRAY p_keys LOOP
        SELECT owner_id, expiration, true INTO v_owner, v_expiration, v_found
          FROM "${flyway:defaultSchema}".locking WHERE id = v_key;
        IF v_found AND (v_expiration IS NULL OR v_expiration > v_now) THEN
            IF p_owner IS NULL OR v_owner IS DISTINCT FROM p_owner THEN
                blocked_key := v_key;
                retry_after_ms := ceil(extract(epoch FROM v_expiration - v_now) * 1000);
                EXIT;
            END IF;
            -- Held by this owner: re-entry, whatever the queue says.
        ELSE
            SELECT waiter_id INTO v_head
              FROM "${flyway:defaultSchema}".locking_waiter
             WHERE lock_id = v_key
             ORDER BY ticket
             LIMIT 1;
            IF v_head IS NOT NULL AND v_head IS DISTINCT FROM p_waiter THEN
                blocked_key := v_key;
                ahead_waiter := v_head;
                EXIT;
            END IF;
        END IF;
        v_found := false;
        v_head := null;
    END LOOP;

    IF blocked_key IS NOT NULL THEN
        IF p_waiter IS NOT NULL THEN
            SELECT min(ticket) INTO v_ticket
              FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = p_waiter;
            IF v_ticket IS NULL THEN
                v_ticket := nextval('"${flyway:defaultSchema}".locking_waiter_ticket_seq');
            END IF;
            INSERT INTO "${flyway:defaultSchema}".locking_waiter AS w (lock_id, waiter_id, ticket, refreshed_at)
            SELECT k, p_waiter, v_ticket, v_now FROM unnest(p_keys) AS k
            ON CONFLICT (lock_id, waiter_id) DO UPDATE SET refreshed_at = excluded.refreshed_at;
        END IF;
        -- Dropping a dead head may have made another process's waiter first in line.
        IF v_revived IS NOT NULL THEN
            PERFORM "${flyway:defaultSchema}".locking_notify(v_revived);
        END IF;
        RETURN;
    END IF;

    -- Rows are written in byte order, the order releaseAll locks them in, so the two cannot
    -- deadlock on row locks.
    WITH taken AS (
        INSERT INTO "${flyway:defaultSchema}".locking AS l (id, owner_id, expiration, fencing_token, grant_id)
        SELECT k, p_owner, v_now + p_lease_ms * interval '1 millisecond',
               nextval('"${flyway:defaultSchema}".locking_fencing_token_seq'), p_grant
          FROM unnest(p_keys) AS k
         ORDER BY k COLLATE "C"
        ON CONFLICT (id) DO UPDATE SET
            owner_id = excluded.owner_id,
            -- Re-entry without a lease keeps the lease it had; it never turns into a permanent lock.
            expiration = CASE
                WHEN p_lease_ms IS NULL AND l.owner_id = p_owner AND (l.expiration IS NULL OR l.expiration > v_now)
                    THEN l.expiration
                ELSE excluded.expiration END,
            fencing_token = excluded.fencing_token,
            grant_id = excluded.grant_id
        RETURNING l.id, l.fencing_token, l.expiration)
    SELECT array_agg(t.fencing_token ORDER BY u.ord), min(t.expiration)
      INTO tokens, expires_at
      FROM taken t JOIN unnest(p_keys) WITH ORDINALITY AS u(k, ord) ON u.k = t.id;
    granted := true;

    IF p_waiter IS NOT NULL THEN
        DELETE FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = p_waiter;
    END IF;
END $$;

-- Frees each key held, unexpired, by p_owner (null: held anonymously) and no other; true iff all
-- were. Keys with waiters are announced.
CREATE FUNCTION "${flyway:defaultSchema}".locking_release(p_keys text[], p_owner text, p_lock_timeout_ms integer)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
    v_freed text[];
BEGIN
    PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
    v_now := clock_timestamp();
    -- Row locks in byte order, as everywhere, so this never deadlocks with releaseAll.
    WITH victims AS (
        SELECT id FROM "${flyway:defaultSchema}".locking
         WHERE id = ANY (p_keys)
           AND owner_id IS NOT DISTINCT FROM p_owner
           AND (expiration IS NULL OR expiration > v_now)
         ORDER BY id COLLATE "C"
           FOR UPDATE),
    freed AS (
        DELETE FROM "${flyway:defaultSchema}".locking l USING victims v
         WHERE l.id = v.id
        RETURNING l.id)
    SELECT array_agg(id) INTO v_freed FROM freed;
    -- Expired rows are free already; tidy them while the keys are serialised.
    DELETE FROM "${flyway:defaultSchema}".locking WHERE id = ANY (p_keys) AND expiration <= v_now;
    IF v_freed IS NULL THEN
        RETURN false;
    END IF;
    PERFORM "${flyway:defaultSchema}".locking_notify(array_agg(k))
       FROM unnest(v_freed) AS k
      WHERE EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_waiter w WHERE w.lock_id = k)
     HAVING count(*) > 0;
    RETURN cardinality(v_freed) = cardinality(p_keys);
END $$;

-- Frees every unexpired lock of p_owner (null: every anonymous lock); returns how many.
-- No advisory locks: an owner may hold more keys than the server's lock table has room for.
-- Each row is deleted under its row lock, which is atomic per key; READ COMMITTED rechecks the
-- owner and expiry of a row another transaction changed meanwhile. Every freed key is announced,
-- waiters or not: without the advisory locks a waiter may be enqueuing at this very moment.
CREATE FUNCTION "${flyway:defaultSchema}".locking_release_all(p_owner text)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_freed text[];
BEGIN
    IF p_owner IS NULL THEN
        WITH victims AS (
            SELECT id FROM "${flyway:defaultSchema}".locking
             WHERE owner_id IS NULL AND (expiration IS NULL OR expiration > clock_timestamp())
             ORDER BY id COLLATE "C"
               FOR UPDATE),
        freed AS (
            DELETE FROM "${flyway:defaultSchema}".locking l USING victims v
             WHERE l.id = v.id AND l.owner_id IS NULL
               AND (l.expiration IS NULL OR l.expiration > clock_timestamp())
            RETURNING l.id)
        SELECT array_agg(id) INTO v_freed FROM freed;
    ELSE
        WITH victims AS (
            SELECT id FROM "${flyway:defaultSchema}".locking
             WHERE owner_id = p_owner AND (expiration IS NULL OR expiration > clock_timestamp())
             ORDER BY id COLLATE "C"
               FOR UPDATE),
        freed AS (
            DELETE FROM "${flyway:defaultSchema}".locking l USING victims v
             WHERE l.id = v.id AND l.owner_id = p_owner
               AND (l.expiration IS NULL OR l.expiration > clock_timestamp())
            RETURNING l.id)
        SELECT array_agg(id) INTO v_freed FROM freed;
    END IF;
    IF v_freed IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM "${flyway:defaultSchema}".locking_notify(v_freed);
    RETURN cardinality(v_freed);
END $$;

-- Sets the lease of keys p_owner still holds to p_lease_ms from now; true iff it held them all.
-- Serialised with acquire, so a lease is never renewed after another owner took the key.
CREATE FUNCTION "${flyway:defaultSchema}".locking_renew(
        p_keys text[], p_owner text, p_lease_ms bigint, p_lock_timeout_ms integer)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
    v_count integer;
BEGIN
    PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
    v_now := clock_timestamp();
    WITH victims AS (
        SELECT id FROM "${flyway:defaultSchema}".locking
         WHERE id = ANY (p_keys)
           AND owner_id IS NOT DISTINCT FROM p_owner
           AND (expiration IS NULL OR expiration > v_now)
         ORDER BY id COLLATE "C"
           FOR UPDATE)
    UPDATE "${flyway:defaultSchema}".locking l
       SET expiration = v_now + p_lease_ms * interval '1 millisecond'
      FROM victims v
     WHERE l.id = v.id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count = cardinality(p_keys);
END $$;

-- Removes a waiter that gave up. Keys it leaves with other waiters are announced: the next one
-- may be first in line now.
CREATE FUNCTION "${flyway:defaultSchema}".locking_leave_queue(p_keys text[], p_waiter text, p_lock_timeout_ms integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_left text[];
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
    IF v_left IS NOT NULL THEN
        PERFORM "${flyway:defaultSchema}".locking_notify(v_left);
    END IF;
END $$;
