-- The schema of the locking-postgres provider: three tables, two sequences and the plpgsql functions
-- every lock operation calls. Flyway runs this script with its own history table in the provider's
-- own schema (see PostgresMigrations); ${flyway:defaultSchema} is that schema, and every name is
-- qualified with it because the functions run with the caller's search_path.

-- The lock table. A row is a lock: it is held while it exists and its expiration is null or in the
-- future (by the database clock); anything else is free for anyone. owner_id null means an
-- anonymous lock. The first three columns are Medusa's, with its names and meaning, so a schema
-- that already holds Medusa's `locking` table is adopted in place (its held locks stay held) rather
-- than refused: hence IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS "${flyway:defaultSchema}".locking (
    id text PRIMARY KEY,
    owner_id text NULL,
    expiration timestamptz NULL
);

-- One counter for every acquisition: a key's tokens increase because every later acquisition of
-- it draws a later value. Sequences are never rolled back and survive restarts and crashes. Its
-- values stay below 2^48 (a million acquisitions a second for eight years): the bits above are the
-- timeline's (see locking_next_token).
CREATE SEQUENCE "${flyway:defaultSchema}".locking_fencing_token_seq AS bigint MAXVALUE 281474976710655;

-- The next fencing token: the server's WAL timeline times 2^48, plus the next value of the
-- sequence. A failover promotes a replica onto a new timeline, and so does a point-in-time
-- restore; an asynchronous replica may not have received the old primary's last sequence values,
-- but every token it issues after its promotion is larger than every token of the timeline before,
-- so a key's tokens keep growing across the failover. (Restoring a logical dump, or starting a
-- copied data directory without recovery, keeps the timeline and can issue tokens again.) A SQL
-- function of one expression, inlined where it is called.
CREATE FUNCTION "${flyway:defaultSchema}".locking_next_token()
    RETURNS bigint
    LANGUAGE sql VOLATILE AS $$
    SELECT (('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint << 48)
           + nextval('"${flyway:defaultSchema}".locking_fencing_token_seq')
$$;

ALTER TABLE "${flyway:defaultSchema}".locking
    ADD COLUMN IF NOT EXISTS fencing_token bigint NOT NULL
        DEFAULT "${flyway:defaultSchema}".locking_next_token(),
    -- The id of the call that took the key while it was free (the SPI's AcquireRequest.grantId,
    -- the same on every attempt of one call), so that an attempt retried after a lost reply
    -- recognises its own grant instead of finding the key "held" (matters for anonymous locks), and
    -- so that locking_undo frees exactly what a call took when its caller never learnt of it.
    -- Null once the owner re-entered the key in another call (that call counts on the key).
    -- "w:<waiter id>" for a key a release handed to a waiter (see locking_release).
    ADD COLUMN IF NOT EXISTS grant_id text NULL;

-- releaseAll(owner) and releaseAll(anonymous) find their rows through it (btree also serves IS NULL).
CREATE INDEX IF NOT EXISTS locking_owner_id_idx ON "${flyway:defaultSchema}".locking (owner_id);

-- Waiters in arrival order, per key. A waiter takes one ticket for all of its keys, so every
-- queue agrees on the order of any two waiters: that is what keeps two waiters for the same keys
-- in opposite orders from blocking each other forever.
CREATE SEQUENCE "${flyway:defaultSchema}".locking_waiter_ticket_seq AS bigint;

CREATE TABLE "${flyway:defaultSchema}".locking_waiter (
    lock_id text NOT NULL,
    waiter_id text NOT NULL,
    ticket bigint NOT NULL,
    -- Refreshed by each attempt of the waiter; an entry left unrefreshed belongs to a dead process.
    refreshed_at timestamptz NOT NULL,
    -- What a release needs to hand the key to this waiter (see locking_release): the owner, the
    -- lease in milliseconds, how long the entry may go unrefreshed before it counts as dead, and
    -- the process (an id of the provider instance) the waiter is parked in. lease_ms is null for a
    -- waiter that cannot be handed a key: one without a lease, or one that waits for several keys
    -- (entered by locking_try_acquire_general).
    owner_id text NULL,
    lease_ms bigint NULL,
    stale_ms bigint NULL,
    process_id text NULL,
    PRIMARY KEY (lock_id, waiter_id)
);

CREATE INDEX locking_waiter_queue_idx ON "${flyway:defaultSchema}".locking_waiter (lock_id, ticket);
CREATE INDEX locking_waiter_waiter_idx ON "${flyway:defaultSchema}".locking_waiter (waiter_id);

-- Calls undone by locking_undo: their caller got an error and will never use the keys. An attempt
-- of such a call can still reach the server after the undo (a request held up in a half-open
-- connection and delivered when the network heals), and must not take anything then: it would
-- hold its keys with nobody to release them. The cleanup removes entries older than a day, far
-- beyond the time a TCP connection keeps retransmitting a request (about 15 minutes on Linux).
CREATE TABLE "${flyway:defaultSchema}".locking_undone (
    grant_id text PRIMARY KEY,
    undone_at timestamptz NOT NULL
);

-- Every lock operation is one of the functions below, called as one statement: one round trip,
-- one transaction that commits when the statement ends. Nothing here holds anything across calls;
-- a held lock is a row with a lease, so a pooled connection (PgBouncer transaction mode included)
-- never carries lock state from one caller to the next.
--
-- Time is clock_timestamp(), read after the advisory locks are granted: now() is frozen at the
-- start of the transaction, before the wait, and would judge expiry in the past.
--
-- The common call, one key, runs a fast path of one or two SQL statements inside
-- locking_try_acquire and locking_release: in plpgsql each statement is an executor start-up (and
-- often a fresh plan), which is most of a call's server time, so the fast path evaluates
-- everything else as plpgsql expressions. Every other case (several keys, re-entry by the owner, a
-- stale queue head) goes to the *_general functions, which take each step as its own statement.

-- Serialises every contender for these keys until the calling transaction ends. Transaction-scoped
-- advisory locks, so nothing outlives the statement, on a 64-bit hash of the key, taken in hash
-- order so that overlapping key sets never deadlock even when two keys collide. A collision only
-- makes two unrelated keys queue briefly for each other: ownership is decided by the rows.
--
-- p_lock_timeout_ms bounds the total wait for the advisory locks of all keys, not each one, so a
-- caller with little time left before its deadline is never held longer than that however many of
-- its keys are busy. A lock timeout names the key it was waiting for (in the error's DETAIL,
-- SQLSTATE 55P03), so the caller reports the key that was actually busy. The uncontended path
-- takes pg_try_advisory_xact_lock and enters no exception block (no subtransaction); only a key
-- that is busy right now waits inside one.
CREATE FUNCTION "${flyway:defaultSchema}".locking_serialise(p_keys text[], p_lock_timeout_ms integer)
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
    -- In hash order, so overlapping key sets never deadlock; keys that share a hash
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

-- Wakes other processes' waiters: the payload is the key. Delivered when the transaction commits.
CREATE FUNCTION "${flyway:defaultSchema}".locking_notify(p_keys text[])
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_notify('locking_${flyway:defaultSchema}', k) FROM unnest(p_keys) AS k;
END $$;

-- Enters a waiter in the queues of p_keys, or refreshes its entries: one ticket for all of its
-- keys (its earliest, so a waiter keeps its place), which is what keeps every queue in the same order.
CREATE FUNCTION "${flyway:defaultSchema}".locking_join_queue(p_keys text[], p_waiter text, p_now timestamptz)
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_ticket bigint;
BEGIN
    SELECT min(q.ticket) INTO v_ticket
      FROM "${flyway:defaultSchema}".locking_waiter q WHERE q.waiter_id = p_waiter;
    IF v_ticket IS NULL THEN
        v_ticket := nextval('"${flyway:defaultSchema}".locking_waiter_ticket_seq');
    END IF;
    INSERT INTO "${flyway:defaultSchema}".locking_waiter AS w (lock_id, waiter_id, ticket, refreshed_at)
    SELECT k, p_waiter, v_ticket, p_now FROM unnest(p_keys) AS k
    ON CONFLICT (lock_id, waiter_id) DO UPDATE SET refreshed_at = excluded.refreshed_at;
END
$$;

-- One attempt to take every key of p_keys (sorted, distinct), all or nothing: the general path,
-- for any number of keys (locking_try_acquire sends it what its single-key fast path does not
-- decide).
--
-- p_owner     null for an anonymous lock, which is never re-entrant
-- p_lease_ms  null for a lock held until released; else the lease from now, in milliseconds
-- p_waiter    null for a caller that does not wait; else its id in the key queues
-- p_grant     the id of the call (the same on each of its attempts), stored with each key taken
--             while it was free and forgotten on a key re-entered by another call; a retry whose
--             first try committed finds its own grant and reports it again
-- p_waiter_stale_ms  queue entries not refreshed for this long belong to dead processes
--
-- Returns granted = true with one token per key (in p_keys order) and the earliest expiry, or
-- granted = false with the first key that could not be granted, how long its lease still runs and,
-- when it is free but reserved, the waiter it is reserved for. A blocked waiter is enqueued on
-- every key of the request with one ticket.
CREATE FUNCTION "${flyway:defaultSchema}".locking_try_acquire_general(
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
    v_revived text[];
BEGIN
    PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
    v_now := clock_timestamp();
    granted := false;

    -- An attempt of a call already undone, arriving late: its caller is gone; take nothing.
    IF EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_undone u WHERE u.grant_id = p_grant) THEN
        blocked_key := p_keys[1];
        RETURN;
    END IF;

    -- A retry of a call whose attempt already committed: report the same grant.
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
            PERFORM "${flyway:defaultSchema}".locking_join_queue(p_keys, p_waiter, v_now);
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
               "${flyway:defaultSchema}".locking_next_token(), p_grant
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
            -- A key taken free remembers this call; one re-entered in another call forgets the call
            -- that took it, so that undoing that call (locking_undo) leaves the key held.
            grant_id = CASE
                WHEN l.owner_id = p_owner AND (l.expiration IS NULL OR l.expiration > v_now)
                        AND l.grant_id IS DISTINCT FROM p_grant
                    THEN NULL
                ELSE excluded.grant_id END
        RETURNING l.id, l.fencing_token, l.expiration)
    SELECT array_agg(t.fencing_token ORDER BY u.ord), min(t.expiration)
      INTO tokens, expires_at
      FROM taken t JOIN unnest(p_keys) WITH ORDINALITY AS u(k, ord) ON u.k = t.id;
    granted := true;

    IF p_waiter IS NOT NULL THEN
        DELETE FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = p_waiter;
    END IF;
END $$;

-- The acquire every caller runs, with the arguments and answer of locking_try_acquire_general.
-- One key is decided here in one statement when it is free (the upsert checks the queue and the
-- old row itself), two for a waiter taking its turn (the upsert, then leaving its queue), and a
-- caller refused because the key is held or reserved for a live waiter is answered with one more
-- read, plus one INSERT when it joins the queue. A key whose advisory lock is busy is waited for
-- (the serialiser, same bound) and then decided here too. It grants only where the general
-- function would: no live row, and no queue or this caller at its head. Re-entry by the owner and
-- a stale queue head (a dead process, which the general function drops) go the general way.
--
-- A waiter with a lease is enqueued with its owner, lease, staleness and p_process (the id of the
-- calling provider instance), so that a release in the same process can hand it the key (see
-- locking_release); an attempt of a waiter that finds the key handed to it takes it as its grant.
CREATE FUNCTION "${flyway:defaultSchema}".locking_try_acquire(
        p_keys text[], p_owner text, p_lease_ms bigint, p_waiter text, p_grant text,
        p_waiter_stale_ms bigint, p_lock_timeout_ms integer, p_process text DEFAULT NULL,
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
        -- way) and the call was not undone (see locking_undone; the general way refuses it), and
        -- replaces an existing row only if its lease has run out. A live row, held by anyone, is
        -- left alone and the statement returns nothing.
        INSERT INTO "${flyway:defaultSchema}".locking AS l (id, owner_id, expiration, fencing_token, grant_id)
        SELECT v_key, p_owner, v_now + p_lease_ms * interval '1 millisecond',
               "${flyway:defaultSchema}".locking_next_token(), p_grant
         WHERE NOT EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_undone u WHERE u.grant_id = p_grant)
           AND NOT EXISTS (
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
            -- A retry of this very call after a lost reply.
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
            IF p_waiter IS NOT NULL AND v_grant = 'w:' || p_waiter
                    AND NOT EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_undone u
                                     WHERE u.grant_id = p_grant) THEN
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
                -- A waiter with a lease can be handed the key by a release in its own process:
                -- its entry carries what the grant needs (owner, lease, when it counts as dead,
                -- which process it is parked in).
                INSERT INTO "${flyway:defaultSchema}".locking_waiter AS w
                       (lock_id, waiter_id, ticket, refreshed_at, owner_id, lease_ms, stale_ms, process_id)
                VALUES (v_key, p_waiter,
                        coalesce((SELECT min(o.ticket) FROM "${flyway:defaultSchema}".locking_waiter o
                                   WHERE o.waiter_id = p_waiter),
                                 nextval('"${flyway:defaultSchema}".locking_waiter_ticket_seq')),
                        v_now, p_owner, p_lease_ms, p_waiter_stale_ms, p_process)
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

-- Frees each key held, unexpired, by p_owner (null: held anonymously) and no other; true iff all
-- were. Keys with waiters are announced. The general path, for any number of keys
-- (locking_release sends it what its single-key fast path does not decide).
CREATE FUNCTION "${flyway:defaultSchema}".locking_release_general(p_keys text[], p_owner text, p_lock_timeout_ms integer)
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

-- Frees p_keys if p_owner holds them; released is true iff it held them all.
--
-- One key is decided here with one DELETE that frees the key if this owner holds it (and tidies it
-- if its lease has run out), and says in the same statement whether anyone is queued for it.
-- Several keys go to locking_release_general.
--
-- Hand-over: when the first waiter in the key's queue is parked in the releasing process
-- (process_id = p_process), alive (refreshed within its stale_ms), and waits for that key alone
-- with a lease, the release writes that waiter's lock row itself in the same transaction (its
-- owner, its lease from now, a new fencing token, grant id "w:<waiter id>"), removes its queue
-- entry, and returns the waiter's id, the token and the expiry in handed_to, handed_token and
-- handed_expires_at: the releasing process hands the grant to the parked caller as soon as the
-- release returns, without another round trip. A waiter that gave up meanwhile frees the row in
-- locking_leave_queue.
--
-- Only such waiters. One of another process may have died since its last refresh, and a key
-- handed to it would stay held for its whole lease; instead it is woken on the channel
-- locking_<schema>, and the key stays free, reserved for it as the head of the queue, until its
-- own attempt takes it or its entry goes stale (waiter-expiry). One without a lease would hold a
-- key for ever if its caller stopped before taking the grant; one waiting for several keys must
-- get all of them at once. They, and a stale head, are woken the same way.
--
-- p_async_leased  true: when the freed lock had a lease and was not handed over, this transaction
--                 commits without waiting for its WAL flush. A database crash can then forget the
--                 release, and the lock is held again after recovery, until its lease ends; it is
--                 never held twice, because the next acquire of the key commits durably, and its
--                 flush carries this release's WAL with it. A lock without a lease is always
--                 released durably: forgetting that release would hold the key until its owner came
--                 back. A hand-over is a grant and is committed durably like any grant.
CREATE FUNCTION "${flyway:defaultSchema}".locking_release(
        p_keys text[], p_owner text, p_lock_timeout_ms integer, p_async_leased boolean,
        p_process text DEFAULT NULL,
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
            -- The first in line, if it is parked in this process, alive, and waits for this key
            -- alone with a lease, is handed the key in this transaction: the row is its lock, and
            -- this function's reply tells the process the token and the expiry. The grant is
            -- committed durably, like any grant (no synchronous_commit = off below). Anyone else
            -- first in line is woken to try.
            SELECT w.waiter_id, w.owner_id, w.lease_ms, w.stale_ms, w.refreshed_at, w.process_id INTO v_head
              FROM "${flyway:defaultSchema}".locking_waiter w
             WHERE w.lock_id = v_key ORDER BY w.ticket LIMIT 1;
            IF v_head.lease_ms IS NOT NULL
                    AND v_head.process_id = p_process
                    AND v_head.refreshed_at > v_now - v_head.stale_ms * interval '1 millisecond'
                    AND NOT EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_waiter o
                                     WHERE o.waiter_id = v_head.waiter_id AND o.lock_id <> v_key) THEN
                INSERT INTO "${flyway:defaultSchema}".locking (id, owner_id, expiration, fencing_token, grant_id)
                VALUES (v_key, v_head.owner_id, v_now + v_head.lease_ms * interval '1 millisecond',
                        "${flyway:defaultSchema}".locking_next_token(), 'w:' || v_head.waiter_id)
                RETURNING fencing_token, expiration INTO v_token, v_expiration;
                DELETE FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = v_head.waiter_id;
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

-- Removes waiters that gave up (p_waiters, from the queues of p_keys, all their keys), and frees
-- a key a release handed to one of them meanwhile (that waiter will not run: its caller was told it
-- failed). Many waiters in one call: callers of a key that time out together leave together, in one
-- statement instead of one each on the key's advisory lock. Keys left with other waiters, or freed,
-- are announced: the next one may be first in line now.
CREATE FUNCTION "${flyway:defaultSchema}".locking_leave_queue(
        p_keys text[], p_waiters text[], p_lock_timeout_ms integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_left text[];
    v_freed text[];
BEGIN
    PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
    WITH removed AS (
        DELETE FROM "${flyway:defaultSchema}".locking_waiter
         WHERE lock_id = ANY (p_keys) AND waiter_id = ANY (p_waiters)
        RETURNING lock_id)
    -- The statement sees the table as it was before its own DELETE, hence the waiter_id test.
    SELECT array_agg(DISTINCT lock_id) INTO v_left FROM removed r
     WHERE EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_waiter w
                    WHERE w.lock_id = r.lock_id AND w.waiter_id <> ALL (p_waiters));
    WITH freed AS (
        DELETE FROM "${flyway:defaultSchema}".locking l
         WHERE l.id = ANY (p_keys)
           AND l.grant_id = ANY (ARRAY(SELECT 'w:' || w FROM unnest(p_waiters) AS w))
        RETURNING l.id)
    SELECT array_agg(id) INTO v_freed FROM freed;
    IF v_left IS NOT NULL OR v_freed IS NOT NULL THEN
        PERFORM "${flyway:defaultSchema}".locking_notify(
            ARRAY(SELECT DISTINCT k FROM unnest(coalesce(v_left, '{}') || coalesce(v_freed, '{}')) AS k));
    END IF;
END $$;

-- Frees what the call p_grant took without its caller learning of it (its reply was lost, or the
-- call was cut after the commit): each key of p_keys held, unexpired, by p_owner (null: held
-- anonymously) whose row still names that call, i.e. the call took the key while it was free and
-- no other call of the owner re-entered it since. Every other key is left as it is. Idempotent:
-- a call that took nothing, or whose grant expired or was released, frees nothing. The call is
-- recorded in locking_undone, so that an attempt of it that reaches the server only now takes
-- nothing. Returns how many keys it freed; each is announced, so waiters (in any process) try
-- again at once.
CREATE FUNCTION "${flyway:defaultSchema}".locking_undo(
        p_keys text[], p_owner text, p_grant text, p_lock_timeout_ms integer)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
    v_freed text[];
BEGIN
    -- Serialised with acquire: an attempt of the call still running on the server commits first.
    PERFORM "${flyway:defaultSchema}".locking_serialise(p_keys, p_lock_timeout_ms);
    v_now := clock_timestamp();
    INSERT INTO "${flyway:defaultSchema}".locking_undone (grant_id, undone_at) VALUES (p_grant, v_now)
    ON CONFLICT (grant_id) DO NOTHING;
    WITH victims AS (
        SELECT id FROM "${flyway:defaultSchema}".locking
         WHERE id = ANY (p_keys)
           AND owner_id IS NOT DISTINCT FROM p_owner
           AND grant_id = p_grant
           AND (expiration IS NULL OR expiration > v_now)
         ORDER BY id COLLATE "C"
           FOR UPDATE),
    freed AS (
        DELETE FROM "${flyway:defaultSchema}".locking l USING victims v
         WHERE l.id = v.id
        RETURNING l.id)
    SELECT array_agg(id) INTO v_freed FROM freed;
    IF v_freed IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM "${flyway:defaultSchema}".locking_notify(v_freed);
    RETURN cardinality(v_freed);
END $$;

-- Session mode (the provider option mode = "session"): a lock is a session-level advisory lock on
-- one of the provider's own server sessions, and nothing is written per lock. Its 64-bit key is the
-- first 8 bytes of SHA-256 of the schema and the key, computed by the provider; two keys that share
-- it (about one chance in 2^64 per pair) only exclude each other. The waiter queue is the table
-- mode's locking_waiter: a waiter is written there only when it is refused.
--
-- A fencing token is read from the server's clock after the locks are granted: the WAL timeline
-- times 2^52 plus clock_timestamp() in microseconds since 1970 (below 2^52 until 2112). A key's
-- tokens grow as long as the server's clock does not step back on one timeline; a failover starts a
-- new timeline, so tokens grow across it even when the new primary's clock is behind. Timeline t's
-- tokens are all larger than the table mode's tokens of timeline t (below (t + 1) * 2^48), so
-- tokens keep growing when a database moves from table mode to session mode. Timelines from 2048
-- on do not fit: the call is refused.
--
-- A waiter (p_waiter non-null) and a release serialise on a transaction-scoped advisory lock of the
-- key, as the table mode's functions do, so that a release either precedes the waiter's try (which
-- then gets the key) or sees its queue entry and notifies it.
--
-- p_keys        every key of the call; a refused waiter joins each of their queues
-- p_lock_keys   the keys to lock (those the process does not hold already), sorted, and
-- p_lock_ids    their advisory lock keys, in the same order
-- p_blocked_key non-null: the process already knows the call is refused (it holds that key for
--               another owner); nothing is tried, a waiter only joins the queues
CREATE FUNCTION "${flyway:defaultSchema}".locking_session_acquire(
        p_keys text[], p_lock_keys text[], p_lock_ids bigint[], p_waiter text, p_waiter_stale_ms bigint,
        p_blocked_key text,
        OUT granted boolean, OUT token bigint, OUT blocked_key text, OUT ahead_waiter text)
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_count integer := coalesce(cardinality(p_lock_ids), 0);
    v_i integer;
    v_timeline bigint;
BEGIN
    granted := false;
    blocked_key := p_blocked_key;
    IF p_waiter IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(h)
           FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(p_keys) AS k) s ORDER BY h;
    END IF;
    -- A free key is reserved for the first live waiter in its queue.
    IF blocked_key IS NULL AND v_count > 0 THEN
        SELECT w.lock_id, w.waiter_id INTO blocked_key, ahead_waiter
          FROM unnest(p_lock_keys) AS k(key)
          CROSS JOIN LATERAL (
                SELECT q.lock_id, q.waiter_id FROM "${flyway:defaultSchema}".locking_waiter q
                 WHERE q.lock_id = k.key
                   AND q.refreshed_at > v_now - p_waiter_stale_ms * interval '1 millisecond'
                 ORDER BY q.ticket
                 LIMIT 1) w
         WHERE w.waiter_id IS DISTINCT FROM p_waiter
         LIMIT 1;
    END IF;
    IF blocked_key IS NULL THEN
        FOR v_i IN 1 .. v_count LOOP
            IF NOT pg_try_advisory_lock(p_lock_ids[v_i]) THEN
                blocked_key := p_lock_keys[v_i];
                FOR v_j IN 1 .. v_i - 1 LOOP
                    PERFORM pg_advisory_unlock(p_lock_ids[v_j]);
                END LOOP;
                EXIT;
            END IF;
        END LOOP;
    END IF;
    IF blocked_key IS NOT NULL THEN
        ahead_waiter := CASE WHEN ahead_waiter IS DISTINCT FROM p_waiter THEN ahead_waiter END;
        IF p_waiter IS NOT NULL THEN
            PERFORM "${flyway:defaultSchema}".locking_join_queue(p_keys, p_waiter, v_now);
        END IF;
        RETURN;
    END IF;
    v_timeline := ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint;
    IF v_timeline > 2047 THEN
        FOR v_i IN 1 .. v_count LOOP
            PERFORM pg_advisory_unlock(p_lock_ids[v_i]);
        END LOOP;
        RAISE EXCEPTION 'dev.locking: session mode issues fencing tokens only on WAL timelines below 2048, the server is on timeline %', v_timeline
            USING HINT = 'Use mode = "table".';
    END IF;
    token := (v_timeline << 52) + floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    granted := true;
    IF p_waiter IS NOT NULL THEN
        DELETE FROM "${flyway:defaultSchema}".locking_waiter WHERE waiter_id = p_waiter;
    END IF;
END $$;

-- Frees session-mode locks held on the calling session (p_lock_ids, the advisory keys of p_keys)
-- and notifies the waiters of every key that has any: a release nobody waits for writes nothing
-- and notifies nobody. True iff every lock was held on this session.
CREATE FUNCTION "${flyway:defaultSchema}".locking_session_release(p_keys text[], p_lock_ids bigint[])
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_all boolean := true;
    v_i integer;
BEGIN
    PERFORM pg_advisory_xact_lock(h)
       FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(p_keys) AS k) s ORDER BY h;
    FOR v_i IN 1 .. cardinality(p_lock_ids) LOOP
        v_all := pg_advisory_unlock(p_lock_ids[v_i]) AND v_all;
    END LOOP;
    PERFORM pg_notify('locking_${flyway:defaultSchema}', k)
       FROM unnest(p_keys) AS k
      WHERE EXISTS (SELECT 1 FROM "${flyway:defaultSchema}".locking_waiter q WHERE q.lock_id = k);
    RETURN v_all;
END $$;
