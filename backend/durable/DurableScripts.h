#pragma once

// The Lua scripts of the Durable Streams store (DurableStore runs them; EVALSHA, EVAL after
// NOSCRIPT). Every script touches one stream's two keys only, which share a hash tag:
//   KEYS[1] = ds-meta:{ds:<tenant>:<name>}      hash, the stream's configuration and state
//   KEYS[2] = agent-stream:{ds:<tenant>:<name>} the Redis stream, one entry per message
// Meta fields: ct (content type as created), ctn (normalised, compared), ttl / ttlms (sliding
// TTL), exp / expms (absolute expiry), closed ("1"), tail (id of the last data entry, "0-0"
// when empty), sseq (last Stream-Seq), ff / fo (forked from / at), forks (live forks), del
// ("1" = soft-deleted, kept for its forks), closer (the producer tuple that closed it),
// "p:<producer id>" = "<epoch> <seq>".
// Entries: field d = the message's bytes; the close marker is {type: done} (the hub's terminal
// entry, so live readers end there) and never counts as data: offsets are data entry ids.
namespace DurableScripts {

// Sliding TTL / absolute expiry of both keys: ARGV-independent, from the meta fields.
#define DS_LUA_EXPIRE                                                                                  \
    "local function ds_expire(ttlms, expms)\n"                                                         \
    "  if ttlms and ttlms ~= '' then\n"                                                                \
    "    redis.call('PEXPIRE', KEYS[1], ttlms); redis.call('PEXPIRE', KEYS[2], ttlms)\n"               \
    "  elseif expms and expms ~= '' then\n"                                                            \
    "    redis.call('PEXPIREAT', KEYS[1], expms); redis.call('PEXPIREAT', KEYS[2], expms)\n"           \
    "  end\n"                                                                                          \
    "end\n"

// Create. ARGV: ct, ctn, ttl, ttlms, exp, expms, closed, ff, fo, fso, n, then n pairs (id or *, data).
// -> {'created'|'exists', tail, closed, ct} | {'conflict'}
inline constexpr char kCreate[] = DS_LUA_EXPIRE
    "local m = redis.call('HMGET', KEYS[1], 'ctn', 'ttl', 'exp', 'closed', 'ff', 'fo', 'del', 'tail', 'ct', 'fso')\n"
    "if m[1] then\n"
    "  if m[7] == '1' then return {'conflict'} end\n"
    "  if m[1] == ARGV[2] and (m[2] or '') == ARGV[3] and (m[3] or '') == ARGV[5] and (m[4] or '0') == ARGV[7]\n"
    "     and (m[5] or '') == ARGV[8] and (m[6] or '') == ARGV[9] and (m[10] or '') == ARGV[10] then\n"
    "    return {'exists', m[8], m[4] or '0', m[9]}\n"
    "  end\n"
    "  return {'conflict'}\n"
    "end\n"
    "local tail = '0-0'\n"
    "if ARGV[9] ~= '' then tail = ARGV[9] end\n"
    "local n = tonumber(ARGV[11])\n"
    "for i = 0, n - 1 do\n"
    "  tail = redis.call('XADD', KEYS[2], ARGV[12 + 2 * i], 'd', ARGV[13 + 2 * i])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'ct', ARGV[1], 'ctn', ARGV[2], 'ttl', ARGV[3], 'ttlms', ARGV[4], 'exp', ARGV[5],\n"
    "           'expms', ARGV[6], 'closed', ARGV[7], 'ff', ARGV[8], 'fo', ARGV[9], 'fso', ARGV[10], 'tail', tail, 'forks', '0')\n"
    "if ARGV[7] == '1' then redis.call('XADD', KEYS[2], '*', 'type', 'done') end\n"
    "ds_expire(ARGV[4], ARGV[6])\n"
    "return {'created', tail, ARGV[7], ARGV[1]}\n";

// Append (and/or close), with the idempotent producer's checks in the same step.
// ARGV: ctn of the request ('' = no body), close (0/1), stream-seq ('' = none), producer id
// ('' = none), epoch, seq, n, then n messages.
// -> {status, tail, closed, a, b, previous, ids...}; status: ok | dup (a = epoch, b = seq) |
//    closed | closed_ok | notfound | gone | ctmismatch | seq | stale (a = current epoch) |
//    gap (a = expected, b = received) | badepoch
inline constexpr char kAppend[] = DS_LUA_EXPIRE
    "local function less(a, b)\n" // byte-wise: Lua's < follows the locale
    "  local n = math.min(#a, #b)\n"
    "  for i = 1, n do\n"
    "    local x, y = a:byte(i), b:byte(i)\n"
    "    if x ~= y then return x < y end\n"
    "  end\n"
    "  return #a < #b\n"
    "end\n"
    "local m = redis.call('HMGET', KEYS[1], 'ctn', 'closed', 'tail', 'sseq', 'del', 'closer', 'ttlms', 'expms')\n"
    "if not m[1] then return {'notfound'} end\n"
    "if m[5] == '1' then return {'gone'} end\n"
    "local tail = m[3]\n"
    "local n = tonumber(ARGV[7])\n"
    "local pid = ARGV[4]\n"
    "local tuple = pid .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[6]\n"
    "if m[2] == '1' then\n"
    "  if pid ~= '' and m[6] == tuple then return {'dup', tail, '1', ARGV[5], ARGV[6]} end\n"
    "  if n == 0 and ARGV[2] == '1' then return {'closed_ok', tail, '1'} end\n"
    "  return {'closed', tail, '1'}\n"
    "end\n"
    "if n > 0 and ARGV[1] ~= m[1] then return {'ctmismatch', tail, '0'} end\n"
    "local pkey = nil\n"
    "if pid ~= '' then\n"
    "  pkey = 'p:' .. pid\n"
    "  local state = redis.call('HGET', KEYS[1], pkey)\n"
    "  local epoch, seq = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "  if state then\n"
    "    local se, ss = state:match('^(%d+) (%d+)$')\n"
    "    local cur, last = tonumber(se), tonumber(ss)\n"
    "    if epoch < cur then return {'stale', tail, '0', se} end\n"
    "    if epoch == cur then\n"
    "      if seq <= last then return {'dup', tail, '0', ARGV[5], ss} end\n"
    "      if seq ~= last + 1 then return {'gap', tail, '0', string.format('%d', last + 1), ARGV[6]} end\n"
    "    elseif seq ~= 0 then return {'badepoch', tail, '0'} end\n"
    "  elseif seq ~= 0 then return {'gap', tail, '0', '0', ARGV[6]} end\n"
    "end\n"
    "if ARGV[3] ~= '' and m[4] and m[4] ~= '' and not less(m[4], ARGV[3]) then return {'seq', tail, '0'} end\n"
    "local out = {'ok', tail, ARGV[2], ARGV[5], ARGV[6], tail}\n"
    "for i = 1, n do\n"
    "  tail = redis.call('XADD', KEYS[2], '*', 'd', ARGV[7 + i])\n"
    "  out[#out + 1] = tail\n"
    "end\n"
    "out[2] = tail\n"
    "redis.call('HSET', KEYS[1], 'tail', tail)\n"
    "if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'sseq', ARGV[3]) end\n"
    "if pkey then redis.call('HSET', KEYS[1], pkey, ARGV[5] .. ' ' .. ARGV[6]) end\n"
    "if ARGV[2] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'closed', '1')\n"
    "  if pid ~= '' then redis.call('HSET', KEYS[1], 'closer', tuple) end\n"
    "  out[#out + 1] = redis.call('XADD', KEYS[2], '*', 'type', 'done')\n"
    "end\n"
    "ds_expire(m[7], m[8])\n"
    "return out\n";

// Read. ARGV: after (an id), count (0 = metadata only), touch (1 = a read: slide the TTL),
// until ('' = none: the last id to return, inclusive).
// -> {'ok', ct, closed, tail, ttl, exp, entries} | {'notfound'} | {'gone'}
inline constexpr char kRead[] = DS_LUA_EXPIRE
    "local m = redis.call('HMGET', KEYS[1], 'ct', 'closed', 'tail', 'ttl', 'exp', 'del', 'ttlms', 'expms')\n"
    "if not m[1] then return {'notfound'} end\n"
    "if m[6] == '1' then return {'gone'} end\n"
    "if ARGV[3] == '1' then ds_expire(m[7], nil) end\n"
    "local entries = {}\n"
    "if tonumber(ARGV[2]) > 0 then\n"
    "  local last = '+'\n"
    "  if ARGV[4] ~= '' then last = ARGV[4] end\n"
    "  entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[1], last, 'COUNT', ARGV[2])\n"
    "end\n"
    "return {'ok', m[1], m[2] or '0', m[3], m[4] or '', m[5] or '', entries}\n";

// Delete: soft when forks still read it. -> {'deleted', forked-from} | {'soft'} | {'notfound'} | {'gone'}
inline constexpr char kDelete[] =
    "local m = redis.call('HMGET', KEYS[1], 'ct', 'forks', 'ff', 'del')\n"
    "if not m[1] then return {'notfound'} end\n"
    "if m[4] == '1' then return {'gone'} end\n"
    "if tonumber(m[2] or '0') > 0 then\n"
    "  redis.call('HSET', KEYS[1], 'del', '1')\n"
    "  return {'soft'}\n"
    "end\n"
    "redis.call('DEL', KEYS[1], KEYS[2])\n"
    "return {'deleted', m[3] or ''}\n";

// A fork's reference on its source. ARGV: +1 or -1. A soft-deleted source whose last fork
// goes is removed. -> {'ok'} | {'removed', its own forked-from} | {'notfound'}
inline constexpr char kForkRef[] =
    "local m = redis.call('HMGET', KEYS[1], 'ct', 'del', 'ff')\n"
    "if not m[1] then return {'notfound'} end\n"
    "local forks = redis.call('HINCRBY', KEYS[1], 'forks', ARGV[1])\n"
    "if forks <= 0 and m[2] == '1' then\n"
    "  redis.call('DEL', KEYS[1], KEYS[2])\n"
    "  return {'removed', m[3] or ''}\n"
    "end\n"
    "return {'ok'}\n";

#undef DS_LUA_EXPIRE
} // namespace DurableScripts
