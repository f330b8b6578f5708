#pragma once

#include "redis/RedisConfig.h"

#include <QObject>

class RedisConnection;

// Follows a Sentinel deployment's failovers: one subscriber connection to a sentinel (the
// next one when it goes), SUBSCRIBE +switch-master, and a signal when the master this app
// uses moved. The data connections then reconnect through the sentinels at once, instead of
// writing to a demoted primary until it turns read-only.
//
//   auto *w = new SentinelWatcher(redisConfig, this);
//   connect(w, &SentinelWatcher::switched, ...);   // (newHost, newPort)
class SentinelWatcher : public QObject
{
    Q_OBJECT
public:
    SentinelWatcher(const RedisConfig &config, QObject *parent = nullptr);

Q_SIGNALS:
    void switched(const QString &host, int port);

private:
    RedisConnection *m_connection;
    QString m_master;
};
