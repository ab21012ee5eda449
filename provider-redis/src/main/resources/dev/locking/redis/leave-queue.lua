-- Removes a waiter that gave up from the queues of its keys, atomically. Per user key i:
--   KEYS[3i-2] queue, KEYS[3i-1] waiter deadlines, KEYS[3i] lock.
-- ARGV: n, waiter id, notification channel, then the n user keys.
-- When the waiter was first in line for a free key, the next one may take it now: tell them.
local n = tonumber(ARGV[1])
local waiter = ARGV[2]
local channel = ARGV[3]
for i = 1, n do
  local queue = KEYS[3 * i - 2]
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  local removed = redis.call('ZREM', queue, waiter)
  redis.call('ZREM', KEYS[3 * i - 1], waiter)
  if removed == 1 and head == waiter and redis.call('ZCARD', queue) > 0
      and redis.call('EXISTS', KEYS[3 * i]) == 0 then
    redis.call('PUBLISH', channel, ARGV[3 + i])
  end
end
return 0
