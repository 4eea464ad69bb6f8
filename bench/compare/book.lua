-- The same atomic admission check Admit makes, as a Redis script:
-- capacity, one booking per user, all-or-nothing decrement.
--   KEYS[1] available seats (integer)   KEYS[2] hash user -> ref
--   KEYS[3] ref counter                 ARGV[1] user   ARGV[2] seats
local seats = tonumber(ARGV[2])
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then
  return {'ALREADY_BOOKED', existing}
end
local available = tonumber(redis.call('GET', KEYS[1]) or '0')
if available < seats then
  return {'SOLD_OUT'}
end
redis.call('DECRBY', KEYS[1], seats)
local ref = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], ARGV[1], ref)
return {'BOOKED', ref}
