#include "runs/RunRecovery.h"

#include "redis/RedisConnection.h"
#include "runs/RunScripts.h"
#include "streams/StreamEntry.h"

#include <QDateTime>
#include <algorithm>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcRuns)


RunRecovery::RunRecovery(RedisConnection *query, qint64 leaseMs, qint64 ttlMs, QObject *parent)
    : QObject(parent)
    , m_query(query)
    , m_ttlMs(ttlMs)
    , m_leaseMs(leaseMs)
{
    m_timer.setTimerType(Qt::PreciseTimer); // a coarse timer may fire 5% late: part of the bound
    m_timer.setInterval(int(sweepIntervalMs(leaseMs)));
    connect(&m_timer, &QTimer::timeout, this, &RunRecovery::sweep);
    connect(m_query, &RedisConnection::disconnected, this, [this] { m_lostRedis = true; });
    connect(m_query, &RedisConnection::connected, this, [this] {
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
    m_query->command({"ZRANGEBYSCORE", StreamKeys::leases(), "-inf", now, "LIMIT", "0", "500"},
                     [this](const RedisReply &reply, const RedisError &error) {
                         m_sweeping = false;
                         if (error.isError())
                             return;
                         for (const RedisReply &id : reply.elements)
                             if (!(m_isLocal && m_isLocal(id.str)))
                                 recover(id.str); // ours are alive: their lease is renewed with their next write
                     });
}

void RunRecovery::recover(const QByteArray &id)
{
    const QByteArray now = QByteArray::number(QDateTime::currentMSecsSinceEpoch());
    const QByteArray message = "the agent's process stopped before the answer was complete; start a new run";
    m_query->command({"EVAL", RunScripts::kEndRun, "3", StreamKeys::run(id), StreamKeys::stream(id), StreamKeys::leases(), id, now,
                      QByteArray::number(m_ttlMs), "failed", "interrupted", message, "1"},
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
