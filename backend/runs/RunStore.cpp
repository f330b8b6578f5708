#include "runs/RunStore.h"

#include "redis/RedisRouter.h"
#include "runs/RunManager.h"
#include "streams/StreamHub.h"

#include <hiredis/hiredis.h>

namespace {
// KEYS[1] stream, KEYS[2] run record -> {number of the two that exist, owning tenant or "",
// run status or "", id of the newest entry or "", its type or ""}.
const char kLookupScript[] = R"lua(
local run = redis.call('HMGET', KEYS[2], 'tenant', 'status')
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id, kind = '', ''
if #top == 1 then
  id = top[1][1]
  local f = top[1][2]
  for i = 1, #f, 2 do if f[i] == 'type' then kind = f[i + 1] end end
end
return {redis.call('EXISTS', KEYS[1], KEYS[2]), run[1] or '', run[2] or '', id, kind}
)lua";

// KEYS[1] stream, KEYS[2] run record; ARGV: first id, hidden-turn field, count (0 = all).
const char kEntriesScript[] = R"lua(
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return false end
if ARGV[3] == '0' then return redis.call('XRANGE', KEYS[1], ARGV[1], '+') end
return redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[3])
)lua";

QByteArray hiddenField(const EntryId &turnEntry)
{
    return "hidden:" + turnEntry.toBytes();
}

bool isActive(const QByteArray &status)
{
    return status == "in_progress" || status == "queued";
}
} // namespace

RunStore::RunStore(RedisRouter *query, RunManager *runs, StreamHub *hub)
    : m_query(query)
    , m_runs(runs)
    , m_hub(hub)
{
}

void RunStore::lookup(const QByteArray &id, const QByteArray &tenant, std::function<void(const Lookup &, const RunError &)> done)
{
    const bool checkTenant = tenant != "*";
    m_query->command({"EVAL", kLookupScript, "2", StreamKeys::stream(id), StreamKeys::run(id)},
                     [this, id, tenant, checkTenant, done](const RedisReply &found, const RedisError &err) {
        if (err.isError()) {
            done({}, RunError::unavailable(err.message));
            return;
        }
        const bool wellFormed = found.elements.size() == 5;
        bool exists = wellFormed && found.elements.at(0).integer > 0;
        if (checkTenant && wellFormed && found.elements.at(1).str != tenant)
            exists = false; // another key's conversation: as if it did not exist
        if (!exists && !checkTenant && m_runs->isRunning(id))
            exists = true; // ours and just started: its first write may still be on its way
        if (!exists) {
            done({}, RunError::notFound(id));
            return;
        }
        Lookup run;
        if (wellFormed) {
            run.status = found.elements.at(2).str;
            run.last = EntryId::parse(found.elements.at(3).str).value_or(EntryId{});
            run.lastType = found.elements.at(4).str;
        }
        run.running = isActive(run.status) || m_runs->isRunning(id);
        done(run, {});
    });
}

void RunStore::record(const QByteArray &id, const QByteArray &tenant, std::function<void(const FieldList &, const RunError &)> done)
{
    m_query->command({"HGETALL", StreamKeys::run(id)}, [id, tenant, done](const RedisReply &reply, const RedisError &err) {
        if (err.isError()) {
            done({}, RunError::unavailable(err.message));
            return;
        }
        FieldList fields;
        QByteArray owner;
        for (qsizetype i = 0; i + 1 < reply.elements.size(); i += 2) {
            if (reply.elements.at(i).str == "tenant")
                owner = reply.elements.at(i + 1).str;
            else
                fields.append({reply.elements.at(i).str, reply.elements.at(i + 1).str});
        }
        if (reply.elements.isEmpty() || (tenant != "*" && owner != tenant))
            done({}, RunError::notFound(id));
        else
            done(fields, {});
    });
}

void RunStore::cancel(const QByteArray &id, const QByteArray &tenant,
                      std::function<void(const QByteArray &status, bool cancelled, const RunError &)> done)
{
    m_query->command({"HMGET", StreamKeys::run(id), "tenant", "status"}, [this, id, tenant, done](const RedisReply &r, const RedisError &err) {
        if (err.isError()) {
            done({}, false, RunError::unavailable(err.message));
            return;
        }
        const QByteArray owner = r.elements.value(0).str;
        const bool exists = r.elements.size() == 2 && !r.elements.at(1).isNil();
        if (!exists || (tenant != "*" && owner != tenant)) {
            done({}, false, RunError::notFound(id));
            return;
        }
        if (m_runs->cancel(id)) { // ours: stopped here and now
            done("cancelled", true, {});
            return;
        }
        const QByteArray status = r.elements.at(1).str;
        if (!isActive(status)) {
            done(status, false, {}); // already over
            return;
        }
        m_runs->cancelRemote(id, [this, id, done, status](bool cancelled, const RedisError &error) {
            m_hub->poke(id);
            if (error.isError())
                done({}, false, RunError::unavailable(error.message));
            else
                done(cancelled ? QByteArray("cancelled") : status, cancelled, {});
        });
    });
}

void RunStore::entriesFrom(const QByteArray &id, const EntryId &from, int count,
                           std::function<void(const QList<EntryView> &, const RunError &)> done)
{
    m_query->commandRaw({"EVAL", kEntriesScript, "2", StreamKeys::stream(id), StreamKeys::run(id), from.toBytes(), hiddenField(from),
                         QByteArray::number(count)},
                        [id, done](const redisReply *reply, const RedisError &err) {
        if (err.isError())
            done({}, RunError::unavailable(err.message));
        else if (!reply || reply->type != REDIS_REPLY_ARRAY)
            done({}, RunError::notFound(id));
        else
            done(EntryView::ofReply(reply), {});
    });
}

void RunStore::hideTurn(const QByteArray &id, const EntryId &turnEntry, std::function<void(const RunError &)> done)
{
    m_query->command({"HSET", StreamKeys::run(id), hiddenField(turnEntry), "1"}, [done](const RedisReply &, const RedisError &err) {
        done(err.isError() ? RunError::unavailable(err.message) : RunError{});
    });
}
