#include "runs/RunRecovery.h"

#include "redis/RedisConnection.h"
#include "streams/StreamEntry.h"

#include <QDateTime>
#include <algorithm>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcRuns)

namespace {
// KEYS[1] run record, KEYS[2] stream, KEYS[3] lease index. ARGV: id, now ms, ttl ms, message.
// Re-checks the lease inside the script: an owner that renewed it meanwhile keeps its run.
// The error entry's id is above the stream's top entry even if the dead writer's clock ran ahead.
const char kRecoverScript[] = R"lua(
local score = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return 0 end
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
redis.call('XADD', KEYS[2], id, 'type', 'error', 'code', 'interrupted', 'message', ARGV[4], 'ts', ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'failed', 'error_code', 'interrupted', 'error_message', ARGV[4],
           'finished_at', ARGV[2], 'updated_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
)lua";
} // namespace

RunRecovery::RunRecovery(RedisConnection *query, qint64 leaseMs, qint64 ttlMs, QObject *parent)
    : QObject(parent)
    , m_query(query)
    , m_ttlMs(ttlMs)
{
    m_timer.setInterval(int(std::clamp<qint64>(leaseMs / 2, 200, 60000)));
    connect(&m_timer, &QTimer::timeout, this, &RunRecovery::sweep);
    connect(m_query, &RedisConnection::connected, this, &RunRecovery::sweep);
    m_timer.start();
}

void RunRecovery::sweep()
{
    if (m_sweeping || !m_query->isConnected())
        return;
    m_sweeping = true;
    const QByteArray now = QByteArray::number(QDateTime::currentMSecsSinceEpoch());
    m_query->command({"ZRANGEBYSCORE", StreamKeys::leases(), "-inf", now, "LIMIT", "0", "500"},
                     [this](const RedisReply &reply, const RedisError &error) {
                         m_sweeping = false;
                         if (error.isError())
                             return;
                         for (const RedisReply &id : reply.elements)
                             recover(id.str);
                     });
}

void RunRecovery::recover(const QByteArray &id)
{
    const QByteArray now = QByteArray::number(QDateTime::currentMSecsSinceEpoch());
    const QByteArray message = "the agent's process stopped before the answer was complete; start a new run";
    m_query->command({"EVAL", kRecoverScript, "3", StreamKeys::run(id), StreamKeys::stream(id), StreamKeys::leases(), id, now,
                      QByteArray::number(m_ttlMs), message},
                     [this, id](const RedisReply &reply, const RedisError &error) {
                         if (error.isError()) {
                             qCWarning(lcRuns).noquote() << "recovery of" << id << "failed:" << error.message;
                             return;
                         }
                         if (reply.integer == 1) {
                             qCWarning(lcRuns).noquote() << "run" << id << "interrupted: its owner's lease expired";
                             Q_EMIT recovered(id);
                         }
                     });
}
