-- Undoes the keys one slot group of a cross-slot acquire took when a later group was blocked
-- (Redis Cluster only), so the call stays all-or-nothing. A key is freed only if it still
-- carries the token this call got: a concurrent re-entry by the same owner is left alone.
-- A waiting caller goes back into the queue of every key of the group, with the ticket it had,
-- in the same step: the grant took it out, and a later waiter must not take the key in between.
-- Per user key i: KEYS[3i-2] lock, KEYS[3i-1] queue, KEYS[3i] waiter deadlines.
-- ARGV: n, channel, waiter id or "", ticket or "", waiter entry lifetime ms, then per key:
--   token to free or "" (a key the owner held before the call: keep it), user key.
local n = tonumber(ARGV[1])
local channel = ARGV[2]
local waiter = ARGV[3]
local ticket = ARGV[4]
local waiterTtl = tonumber(ARGV[5])
local nowMs = 0
if waiter ~= '' and ticket ~= '' then
  local time = redis.call('TIME')
  nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
for i = 1, n do
  local lock, queue = KEYS[3 * i - 2], KEYS[3 * i - 1]
  local queued = 0
  if waiter ~= '' and ticket ~= '' then
    redis.call('ZADD', queue, 'NX', ticket, waiter)
    redis.call('ZADD', KEYS[3 * i], nowMs + waiterTtl, waiter)
    queued = 1
  end
  local token = ARGV[4 + 2 * i]
  if token ~= '' and redis.call('HGET', lock, 't') == token then
    redis.call('DEL', lock)
    -- Only other waiters need the message; this one is told by the call's answer.
    if redis.call('ZCARD', queue) > queued then redis.call('PUBLISH', channel, ARGV[5 + 2 * i]) end
  end
end
return 0
