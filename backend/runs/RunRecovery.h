#pragma once

#include <QObject>
#include <algorithm>
#include <QTimer>
#include <functional>

class RedisConnection;

// Ends runs whose owner died. Every running run holds a lease in agent-streams:leases,
// renewed by its owner's heartbeat; when an owner is killed the lease runs out and any
// instance's sweeper (this class, on the query connection) marks the run failed and appends an
// `error` entry with code `interrupted`, atomically, in one script. Readers following the run
// then end instead of waiting forever.
//
// An expired lease is not proof of death while Redis itself was away: no owner could renew
// then. So runs of this process are never swept, and after this instance lost Redis it waits
// one lease period from the reconnect before it sweeps again (live owners renew meanwhile).
//
//   auto *r = new RunRecovery(query, leaseMs, ttlMs, this);  // sweeps at connect and every leaseMs/10
//   r->setLocalRuns([runs](const QByteArray &id) { return runs->isRunning(id); });
//   connect(r, &RunRecovery::recovered, ...);
class RunRecovery : public QObject
{
    Q_OBJECT
public:
    RunRecovery(RedisConnection *query, qint64 leaseMs, qint64 ttlMs, QObject *parent = nullptr);
    // The promise is "a dead owner's runs end within leaseMs of its death". The owner's last
    // renewal was at most at its death, so: the lease it writes runs leaseExpiryMs() past each
    // renewal, sweeps come every sweepIntervalMs(), and the one interval left over covers
    // the sweep's own round trips and a timer firing late.
    static qint64 sweepIntervalMs(qint64 leaseMs) { return std::clamp<qint64>(leaseMs / 10, 50, 5000); }
    static qint64 leaseExpiryMs(qint64 leaseMs) { return leaseMs - 2 * sweepIntervalMs(leaseMs); }
    void setLocalRuns(std::function<bool(const QByteArray &)> isLocal) { m_isLocal = std::move(isLocal); }
    void sweep();

Q_SIGNALS:
    void recovered(const QByteArray &conversationId);

private:
    void recover(const QByteArray &conversationId);
    RedisConnection *m_query;
    qint64 m_ttlMs;
    qint64 m_leaseMs;
    QTimer m_timer;
    std::function<bool(const QByteArray &)> m_isLocal;
    bool m_sweeping = false;
    bool m_lostRedis = false; // the query connection dropped since the last connect
    qint64 m_holdUntilMs = 0; // no sweep before this (ms since epoch): owners renew after an outage
};
