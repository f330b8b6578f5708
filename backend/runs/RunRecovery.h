#pragma once

#include <QObject>
#include <QTimer>

class RedisConnection;

// Ends runs whose owner died. Every running run holds a lease in agent-streams:leases,
// renewed by its owner's heartbeat; when an owner is killed the lease runs out and any
// instance's sweeper (this class, on the query connection) marks the run failed and appends an
// `error` entry with code `interrupted`, atomically, in one script. Readers following the run
// then end instead of waiting forever.
//
//   auto *r = new RunRecovery(query, leaseMs, ttlMs, this);  // sweeps at connect and every leaseMs/2
//   connect(r, &RunRecovery::recovered, ...);
class RunRecovery : public QObject
{
    Q_OBJECT
public:
    RunRecovery(RedisConnection *query, qint64 leaseMs, qint64 ttlMs, QObject *parent = nullptr);
    void sweep();

Q_SIGNALS:
    void recovered(const QByteArray &conversationId);

private:
    void recover(const QByteArray &conversationId);
    RedisConnection *m_query;
    qint64 m_ttlMs;
    QTimer m_timer;
    bool m_sweeping = false;
};
