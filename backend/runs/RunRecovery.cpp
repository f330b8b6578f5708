#include "runs/RunRecovery.h"

#include "redis/RedisRouter.h"
#include "runs/RunManager.h"
#include "streams/StreamEntry.h"

#include <QDateTime>
#include <QHash>
#include <QPointer>
#include <QSet>
#include <algorithm>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcRuns)

RunRecovery::RunRecovery(RedisRouter *query, qint64 leaseMs, qint64 ttlMs, QObject *parent)
    : QObject(parent)
    , m_query(query)
    , m_ttlMs(ttlMs)
    , m_leaseMs(leaseMs)
{
    m_timer.setTimerType(Qt::PreciseTimer); // a coarse timer may fire 5% late: part of the bound
    m_timer.setInterval(int(sweepIntervalMs(leaseMs)));
    connect(&m_timer, &QTimer::timeout, this, &RunRecovery::sweep);
    connect(m_query, &RedisRouter::disconnected, this, [this] { m_lostRedis = true; });
    connect(m_query, &RedisRouter::connected, this, [this] {
        if (m_lostRedis) {
            m_lostRedis = false;
            m_holdUntilMs = QDateTime::currentMSecsSinceEpoch() + m_leaseMs;
            QTimer::singleShot(int(qMin<qint64>(m_leaseMs, 24 * 3600 * 1000)) + 1, this, &RunRecovery::sweep);
            return;
        }
        sweep();
    });
    m_timer.start();
}

void RunRecovery::sweep()
{
    if (m_sweeping || !m_query->isConnected() || QDateTime::currentMSecsSinceEpoch() < m_holdUntilMs)
        return;
    m_sweeping = true;
    const QByteArray now = QByteArray::number(QDateTime::currentMSecsSinceEpoch());
    // The union of the registry's copies (StreamKeys::leaseBucketRegistries: one SMEMBERS per
    // copy, a copy whose primary is away is skipped).
    const QList<QByteArray> registries = StreamKeys::leaseBucketRegistries(m_query->isCluster());
    struct Reading
    {
        int left = 0;
        bool any = false;
        QSet<QByteArray> buckets;
    };
    auto reading = std::make_shared<Reading>();
    // The router may outlive the sweeper (callbacks check that it is still there).
    auto onReply = [this, self = QPointer<RunRecovery>(this), now, reading](const RedisReply &reply, const RedisError &error) {
        if (!self)
            return;
        if (!error.isError()) {
            reading->any = true;
            for (const RedisReply &bucket : reply.elements)
                reading->buckets.insert(bucket.str);
        }
        if (--reading->left > 0)
            return;
        if (!reading->any) {
            m_sweeping = false;
            return;
        }
        QList<QByteArray> buckets(reading->buckets.cbegin(), reading->buckets.cend());
        if (!m_query->isCluster())
            buckets.append(StreamKeys::leases());
        sweepBuckets(buckets, now);
    };
    reading->left = int(registries.size());
    for (const QByteArray &registry : registries)
        m_query->command(registry, {"SMEMBERS", registry}, onReply);
}

namespace {
// One call per primary (and per kBucketsPerCall buckets) instead of one ZRANGEBYSCORE per
// bucket: a sweep of 2,000 live runs spread over ~1,600 slots was 1,600 commands every
// 1.5 s, a burst that held the event loop and Redis for milliseconds (the periodic W5-live
// p99 spikes, docs/BENCHMARKS.md session 12). ARGV[1] now (ms), ARGV[2] the most ids per
// bucket, ARGV[3..] the buckets, all on this node (the keys are named in ARGV, hence
// allow-cross-slot-keys; read-only). Returns {bucket, {ids}} pairs for buckets with expired
// leases, then {'', {buckets that are not on this node}} if any (a slot moved: the caller
// refreshes its table and sweeps them next time).
const RedisScript &sweepScript()
{
    static const RedisScript script = RedisScript::fromSource(QByteArrayLiteral(R"lua(#!lua flags=no-writes,allow-cross-slot-keys
local out, moved = {}, {}
for i = 3, #ARGV do
  local ids = redis.pcall('ZRANGEBYSCORE', ARGV[i], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
  if ids.err then
    moved[#moved + 1] = ARGV[i]
  elseif #ids > 0 then
    out[#out + 1] = ARGV[i]
    out[#out + 1] = ids
  end
end
if #moved > 0 then
  out[#out + 1] = ''
  out[#out + 1] = moved
end
return out
)lua"));
    return script;
}

constexpr int kBucketsPerCall = 200; // ~0.3 ms of Redis time a call: appends go in between
} // namespace

// Every bucket at once: one script call per primary; the sweep ends with the last answer.
void RunRecovery::sweepBuckets(const QList<QByteArray> &buckets, const QByteArray &now)
{
    QHash<int, QList<QByteArray>> byNode;
    for (const QByteArray &bucket : buckets) {
        const int node = m_query->nodeOf(bucket);
        if (node >= 0)
            byNode[node].append(bucket);
        else
            m_query->refresh(); // its slot has no primary in the table now: swept next time
    }
    QList<QList<QByteArray>> calls;
    for (auto it = byNode.cbegin(); it != byNode.cend(); ++it)
        for (qsizetype i = 0; i < it.value().size(); i += kBucketsPerCall)
            calls.append(QList<QByteArray>{QByteArray::number(it.key()), now, "500"} + it.value().mid(i, kBucketsPerCall));
    if (calls.isEmpty()) {
        m_sweeping = false;
        return;
    }
    auto left = std::make_shared<qsizetype>(calls.size());
    for (QList<QByteArray> &args : calls) {
        const int node = args.takeFirst().toInt();
        m_query->evalOnNode(node, sweepScript(), args, [this, self = QPointer<RunRecovery>(this), left](const RedisReply &reply, const RedisError &error) {
            if (!self)
                return;
            if (--*left == 0)
                m_sweeping = false;
            if (error.isError()) {
                qCWarning(lcRuns).noquote() << "lease sweep failed:" << error.message;
                return;
            }
            for (qsizetype i = 0; i + 1 < reply.elements.size(); i += 2) {
                const QByteArray &bucket = reply.elements.at(i).str;
                if (bucket.isEmpty()) {
                    m_query->refresh(); // buckets of a slot that moved: swept next time
                    continue;
                }
                for (const RedisReply &id : reply.elements.at(i + 1).elements)
                    if (!(m_isLocal && m_isLocal(id.str)))
                        recover(id.str, bucket); // ours are alive: their lease is renewed with their next write
            }
        });
    }
}

void RunRecovery::recover(const QByteArray &id, const QByteArray &leaseKey)
{
    const QByteArray now = QByteArray::number(QDateTime::currentMSecsSinceEpoch());
    const QByteArray message = "the agent's process stopped before the answer was complete; start a new run";
    m_query->eval(RunManager::endRunScript(), {StreamKeys::run(id), StreamKeys::stream(id), leaseKey},
                  {id, now, QByteArray::number(m_ttlMs), "failed", "interrupted", message, "1", RunManager::wakeChannel(m_query, id)},
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
