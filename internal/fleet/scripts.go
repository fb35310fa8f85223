package fleet

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each runs atomically in Redis and reads the clock with TIME, so the
// machines' own clocks never meet: every time a script returns is a duration from
// Redis's now, and every time it stores is in Redis's microseconds.
//
// A host's state is one hash, KEYS[1] = <prefix>:h:<host>:
//
//	tat   the GCRA's theoretical arrival time (µs)
//	cd    the end of the fleet-wide window (Retry-After, pause or quota; µs)
//	q     "1" when the window is an exhausted quota
//	rate  the fleet's learned rate (requests/s); absent = each member's configured rate
//	ver   bumped on every change of rate: the compare-and-set token of recovery
//	ep    the end of the current reduction episode (µs): no second cut before it
//
// and its concurrency leases are a sorted set, KEYS[2] = <prefix>:l:<host>, of lease
// ids scored by their expiry (µs). Keys idle for a day expire.

// now, in every script: Redis's clock in microseconds.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

// reserveScript is the reserving GCRA with the window and the fleet-wide concurrency
// cap in front of it.
//
// ARGV: default rate (rps; 0 = unlimited), burst, concurrency cap (0 = none), lease
// id, lease ttl (µs), key ttl (ms).
//
// Returns {status, wait µs, quota, rate, ver}: status 0 = reserved, send after wait;
// 1 = closed, wait = until the window ends; 2 = busy, every lease is taken (nothing
// reserved). A reservation with no wait takes its lease at once; one with a wait
// takes it with claimScript when its time comes, so a reservation its member never
// uses holds no lease.
var reserveScript = redis.NewScript(luaNow + `
local h, l = KEYS[1], KEYS[2]
local v = redis.call('HMGET', h, 'tat', 'cd', 'q', 'rate', 'ver')
local rate = tonumber(v[4] or ARGV[1])
local ver = tonumber(v[5] or '0')
local cd = tonumber(v[2] or '0')
if cd > now then
  return {1, cd - now, v[3] == '1' and 1 or 0, tostring(rate), ver}
end
local conc = tonumber(ARGV[3])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', l, '-inf', now)
  if redis.call('ZCARD', l) >= conc then
    return {2, 0, 0, tostring(rate), ver}
  end
end
local wait = 0
if rate > 0 then
  local interval = 1000000 / rate
  local burst = tonumber(ARGV[2])
  if burst < 1 then burst = 1 end
  local tat = tonumber(v[1] or '0')
  if tat < now then tat = now end
  wait = tat - (burst - 1) * interval - now
  if wait < 0 then wait = 0 end
  redis.call('HSET', h, 'tat', string.format('%.0f', tat + interval))
  redis.call('PEXPIRE', h, ARGV[6])
end
if conc > 0 and wait == 0 then
  redis.call('ZADD', l, now + tonumber(ARGV[5]), ARGV[4])
  redis.call('PEXPIRE', l, ARGV[6])
end
return {0, math.floor(wait), 0, tostring(rate), ver}
`)

// claimScript turns a reservation whose time has come into a request: closed (a
// window another member opened meanwhile: the reservation is forfeit), busy (no lease
// free yet: claim again shortly) or go, with the lease taken.
//
// ARGV: concurrency cap (0 = none), lease id, lease ttl (µs), key ttl (ms). Returns
// {status, wait µs, quota} with the statuses of reserveScript.
var claimScript = redis.NewScript(luaNow + `
local h, l = KEYS[1], KEYS[2]
local v = redis.call('HMGET', h, 'cd', 'q')
local cd = tonumber(v[1] or '0')
if cd > now then return {1, cd - now, v[2] == '1' and 1 or 0} end
local conc = tonumber(ARGV[1])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', l, '-inf', now)
  if redis.call('ZCARD', l) >= conc then return {2, 0, 0} end
  redis.call('ZADD', l, now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', l, ARGV[4])
end
return {0, 0, 0}
`)

// closeScript extends the host's window to now + ARGV[1] µs (ARGV[2] = "1" for a
// quota); a window is never shortened. Returns the remaining µs of the window in force.
var closeScript = redis.NewScript(luaNow + `
local h = KEYS[1]
local want = now + tonumber(ARGV[1])
local cd = tonumber(redis.call('HGET', h, 'cd') or '0')
if want > cd then
  redis.call('HSET', h, 'cd', string.format('%.0f', want), 'q', ARGV[2])
  redis.call('PEXPIRE', h, ARGV[3])
  cd = want
end
return cd - now
`)

// learnScript changes the fleet's learned rate. ARGV: kind, rate, expected ver,
// episode (µs), key ttl (ms), member, owner timeout (µs).
//
//   - seed: the rate becomes min(rate, the fleet's), or the rate when the fleet has none
//     (a member's learning file seeds the fleet at start);
//   - restore: the same, but the owner stays (after Redis comes back, each member
//     writes back the fleet's rate it last saw: a Redis that restarted empty gets
//     the fleet's rate back, and a raise is then anyone's to make first);
//   - cut: when no episode is running, the rate becomes min(rate, the fleet's) and an
//     episode starts, so the members that saw the same burst of 429s cut once, not
//     once each;
//   - raise: compare-and-set: only when ver is still the one the member last saw, the
//     rate goes up, and the member owns the rate (it made the last change, so its
//     learner's rate is the fleet's) or the owner has been silent for the timeout. So
//     the fleet recovers along one learner's curve, not along four at once.
//
// Returns {rate, ver, applied}.
var learnScript = redis.NewScript(luaNow + `
local h = KEYS[1]
local kind, want, member = ARGV[1], tonumber(ARGV[2]), ARGV[6]
local v = redis.call('HMGET', h, 'rate', 'ver', 'ep', 'own', 'chg')
local rate, ver, ep = tonumber(v[1]), tonumber(v[2] or '0'), tonumber(v[3] or '0')
local own, chg = v[4], tonumber(v[5] or '0')
local applied = 0
if kind == 'seed' or kind == 'restore' then
  if rate == nil or want < rate then rate, applied = want, 1 end
elseif kind == 'cut' then
  if ep <= now and (rate == nil or want < rate) then
    rate, applied = want, 1
    redis.call('HSET', h, 'ep', string.format('%.0f', now + tonumber(ARGV[4])))
  end
elseif kind == 'raise' then
  local owner = (own == nil or own == false or own == member or now - chg > tonumber(ARGV[7]))
  if rate ~= nil and owner and ver == tonumber(ARGV[3]) and want > rate then rate, applied = want, 1 end
end
if applied == 1 then
  ver = ver + 1
  redis.call('HSET', h, 'rate', tostring(rate), 'ver', ver, 'chg', string.format('%.0f', now))
  if kind ~= 'restore' then redis.call('HSET', h, 'own', member) end
  redis.call('PEXPIRE', h, ARGV[5])
end
return {tostring(rate or want), ver, applied}
`)

// heartbeatScript marks the member alive (ARGV[1] = member, ARGV[2] = how long a
// silent member counts, µs), drops the silent ones and returns how many are alive.
var heartbeatScript = redis.NewScript(luaNow + `
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('ZCARD', KEYS[1])
`)

// renewScript extends the member's leases on one host (ARGV[1] = ttl µs, the rest
// lease ids) that still exist.
var renewScript = redis.NewScript(luaNow + `
local n = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
    n = n + 1
  end
end
return n
`)
