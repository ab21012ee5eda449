-- The lock table. Medusa's columns (id, owner_id, expiration) keep their names and meaning, so a
-- database that already has Medusa's `locking` table is upgraded in place rather than rejected.
-- A row is a lock: it is held while it exists and its expiration is null or in the future (by the
-- database clock). owner_id null means an anonymous lock.
CREATE TABLE IF NOT EXISTS locking (
    id text PRIMARY KEY,
    owner_id text NULL,
    expiration timestamptz NULL
);

-- One counter for every acquisition: a key's tokens increase because every later acquisition of
-- it draws a later value. Sequences are never rolled back and survive restarts and crashes.
CREATE SEQUENCE locking_fencing_token_seq AS bigint;

ALTER TABLE locking
    ADD COLUMN IF NOT EXISTS fencing_token bigint NOT NULL DEFAULT nextval('locking_fencing_token_seq'),
    -- The id of the attempt that took the lock, so an attempt retried after a lost reply
    -- recognises its own grant instead of finding the key "held" (matters for anonymous locks).
    ADD COLUMN IF NOT EXISTS grant_id text NULL;

-- releaseAll(owner) and releaseAll(anonymous) find their rows through it (btree also serves IS NULL).
CREATE INDEX IF NOT EXISTS locking_owner_id_idx ON locking (owner_id);

-- Waiters in arrival order, per key. A waiter takes one ticket for all of its keys, so every
-- queue agrees on the order of any two waiters: that is what keeps two waiters for the same keys
-- in opposite orders from blocking each other forever.
CREATE SEQUENCE locking_waiter_ticket_seq AS bigint;

CREATE TABLE locking_waiter (
    lock_id text NOT NULL,
    waiter_id text NOT NULL,
    ticket bigint NOT NULL,
    -- Refreshed by each attempt of the waiter; an entry left unrefreshed belongs to a dead process.
    refreshed_at timestamptz NOT NULL,
    PRIMARY KEY (lock_id, waiter_id)
);

CREATE INDEX locking_waiter_queue_idx ON locking_waiter (lock_id, ticket);
CREATE INDEX locking_waiter_waiter_idx ON locking_waiter (waiter_id);
