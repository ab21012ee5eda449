-- Extends the lease of each key still held by the owner marker, atomically.
-- KEYS[i] lock of user key i; KEYS[n+1], when present, the owner index, kept alive as long.
-- ARGV: n, owner marker, lease ms.
-- Returns {1 if every key was held else 0, now ms, index of the first key not held or 0}.
local n = tonumber(ARGV[1])
local marker = ARGV[2]
local lease = tonumber(ARGV[3])
local index = KEYS[n + 1]

local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local all, lost = 1, 0
for i = 1, n do
  if redis.call('HGET', KEYS[i], 'o') == marker then
    redis.call('PEXPIRE', KEYS[i], lease)
  else
    all = 0
    if lost == 0 then lost = i end
  end
end
if index then
  local current = redis.call('PTTL', index)
  if current >= 0 and current < lease then redis.call('PEXPIRE', index, lease) end
end
return {all, nowMs, lost}
