#include "runs/RunRecovery.h"

#include "redis/RedisRouter.h"
#include "runs/RunManager.h"
#include "streams/StreamEntry.h"

#include <QDateTime>
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
    m_query->command(StreamKeys::leaseBuckets(), {"SMEMBERS", StreamKeys::leaseBuckets()}, [this, now](const RedisReply &reply, const RedisError &error) {
        if (error.isError()) {
            m_sweeping = false;
            return;
        }
        QList<QByteArray> buckets;
        buckets.reserve(reply.elements.size() + 1);
        for (const RedisReply &bucket : reply.elements)
            buckets.append(bucket.str);
        if (!m_query->isCluster())
            buckets.append(StreamKeys::leases());
        sweepBuckets(buckets, now);
    });
}

// Every bucket at once (pipelined per primary); the sweep ends with the last answer.
void RunRecovery::sweepBuckets(const QList<QByteArray> &buckets, const QByteArray &now)
{
    if (buckets.isEmpty()) {
        m_sweeping = false;
        return;
    }
    auto left = std::make_shared<qsizetype>(buckets.size());
    for (const QByteArray &bucket : buckets)
        m_query->command(bucket, {"ZRANGEBYSCORE", bucket, "-inf", now, "LIMIT", "0", "500"},
                         [this, left, bucket](const RedisReply &reply, const RedisError &error) {
                             if (--*left == 0)
                                 m_sweeping = false;
                             if (error.isError())
                                 return;
                             for (const RedisReply &id : reply.elements)
                                 if (!(m_isLocal && m_isLocal(id.str)))
                                     recover(id.str, bucket); // ours are alive: their lease is renewed with their next write
                         });
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
