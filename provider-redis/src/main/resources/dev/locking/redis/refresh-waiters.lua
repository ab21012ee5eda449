-- Keeps parked waiters in line: pushes back the deadline of each one's entry on each key, without
-- trying to grant anything. Only entries still there are touched (XX): a waiter whose entry was
-- already dropped queues again on its next attempt.
-- KEYS[i]: the waiter deadlines of user key i.
-- ARGV: entry lifetime ms, then per key i a count c and c waiter ids.
local time = redis.call('TIME')
local deadline = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[1])
local a = 2
for i = 1, #KEYS do
  local c = tonumber(ARGV[a])
  for j = 1, c do
    redis.call('ZADD', KEYS[i], 'XX', deadline, ARGV[a + j])
  end
  a = a + c + 1
end
return 0
