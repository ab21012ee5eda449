-- Puts a waiter in line on keys it did not get (Redis Cluster, one slot group of a cross-slot
-- call blocked elsewhere), with the ticket it has on its other keys, so queues agree on order.
-- Per user key i: KEYS[2i-1] queue, KEYS[2i] waiter deadlines.
-- ARGV: n, waiter id, ticket, waiter entry lifetime ms.
local n = tonumber(ARGV[1])
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i - 1], 'NX', ARGV[3], ARGV[2])
  redis.call('ZADD', KEYS[2 * i], nowMs + tonumber(ARGV[4]), ARGV[2])
end
return 0
