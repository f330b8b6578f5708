#pragma once

#include <QObject>
#include <algorithm>
#include <QTimer>
#include <functional>

class RedisRouter;

// Ends runs whose owner died. Every running run holds a lease in its slot's lease bucket
// (StreamKeys::leaseBucket), renewed by its owner's heartbeat; when an owner is killed the
// lease runs out and any instance's sweeper (this class, on the query router) marks the run
// failed and appends an `error` entry with code `interrupted`, atomically, in one script on the
// conversation's node. Readers following the run then end instead of waiting forever.
//
// A sweep reads the bucket registry (the union of its copies, StreamKeys::leaseBucketRegistries)
// and asks every bucket
// for its expired leases in one script call per primary (up to 200 buckets a call, the
// buckets named in ARGV: a burst of one command per bucket stalled live streams for
// milliseconds every sweep); on one server it also sweeps the
// legacy global index StreamKeys::leases() (runs started by older versions, which never ran on
// a cluster: they refused one).
//
// An expired lease is not proof of death while Redis itself was away: no owner could renew
// then. So runs of this process are never swept, and after this instance lost Redis (any
// primary of a cluster) it waits one lease period from the reconnect before it sweeps again
// (live owners renew meanwhile).
//
//   auto *r = new RunRecovery(query, leaseMs, ttlMs, this);  // sweeps at connect and every leaseMs/10
//   r->setLocalRuns([runs](const QByteArray &id) { return runs->isRunning(id); });
//   connect(r, &RunRecovery::recovered, ...);
class RunRecovery : public QObject
{
    Q_OBJECT
public:
    RunRecovery(RedisRouter *query, qint64 leaseMs, qint64 ttlMs, QObject *parent = nullptr);
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
    void sweepBuckets(const QList<QByteArray> &buckets, const QByteArray &now);
    void recover(const QByteArray &conversationId, const QByteArray &leaseKey);
    RedisRouter *m_query;
    qint64 m_ttlMs;
    qint64 m_leaseMs;
    QTimer m_timer;
    std::function<bool(const QByteArray &)> m_isLocal;
    bool m_sweeping = false;
    bool m_lostRedis = false; // the query router lost a primary since the last connect
    qint64 m_holdUntilMs = 0; // no sweep before this (ms since epoch): owners renew after an outage
};
