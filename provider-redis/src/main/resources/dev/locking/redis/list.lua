-- Reads locks for an operator's listing, without changing anything. One script, so each key's
-- owner, token and remaining lease are read together with the clock they are measured by.
-- KEYS: lock records, all in one cluster slot. No ARGV.
-- Returns {now ms, then per key: owner marker or "", token or "", remaining ms (-1: no lease,
-- -2: no lock)}.
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local result = {nowMs}
for i = 1, #KEYS do
  -- Something else stored under our namespace is not a lock, and must not fail the listing.
  if redis.call('TYPE', KEYS[i]).ok == 'hash' then
    local fields = redis.call('HMGET', KEYS[i], 'o', 't')
    result[#result + 1] = fields[1] or ''
    result[#result + 1] = fields[2] or ''
    result[#result + 1] = redis.call('PTTL', KEYS[i])
  else
    result[#result + 1] = ''
    result[#result + 1] = ''
    result[#result + 1] = -2
  end
end
return result
