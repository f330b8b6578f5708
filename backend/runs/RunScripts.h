#pragma once

// Lua scripts that change a run's state atomically in Redis. One place, so that every path
// that ends a run (owner, crash recovery, a cancel from another instance) writes the same shape.
namespace RunScripts {

// KEYS[1] run record, KEYS[2] stream, KEYS[3] the lease bucket of the conversation's slot
// (StreamKeys::leaseBucket; the legacy global index on one server, for runs of older versions).
// ARGV: id, now ms, ttl ms, status, code, message, requireExpiredLease ("1" or "0"), wake-up
// channel (StreamKeys::wake on a cluster: SPUBLISH of the error entry's id; '' = none).
// Ends a running run from outside its owner: status + error entry + TTL, lease dropped. With
// requireExpiredLease the lease is re-checked inside the script, so an owner that renewed it
// meanwhile keeps its run. The entry id is above the stream's top entry even if the owner's
// clock ran ahead. Returns 1 when it ended the run, 0 when the run was not running.
inline const char kEndRun[] = R"lua(
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if ARGV[7] == '1' and (not score or tonumber(score) > tonumber(ARGV[2])) then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'in_progress' and status ~= 'queued' then return 0 end
local now = tonumber(ARGV[2])
local id = ARGV[2] .. '-0'
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #top > 0 then
  local ms, seq = string.match(top[1][1], '(%d+)-(%d+)')
  if tonumber(ms) >= now then id = ms .. '-' .. (tonumber(seq) + 1) end
end
redis.call('XADD', KEYS[2], id, 'type', 'error', 'code', ARGV[5], 'message', ARGV[6], 'ts', ARGV[2])
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'error_code', ARGV[5], 'error_message', ARGV[6],
           'finished_at', ARGV[2], 'updated_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if ARGV[8] and ARGV[8] ~= '' then redis.call('SPUBLISH', ARGV[8], id) end
return 1
)lua";

} // namespace RunScripts
