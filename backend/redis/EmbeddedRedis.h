#pragma once

#include "redis/RedisConfig.h"

#include <QObject>
#include <QProcess>

// The embedded default: a redis-server child with the append-only file on, its data in
// dataDir, listening on a unix socket only (no TCP port). It dies with us (PDEATHSIG) and is
// shut down cleanly by stop().
//
//   auto *r = new EmbeddedRedis(dir, this);
//   connect(r, &EmbeddedRedis::ready, this, [](const RedisConfig &cfg) { ... });
//   connect(r, &EmbeddedRedis::failed, this, [](const QString &why) { ... });
//   r->start();
class EmbeddedRedis : public QObject
{
    Q_OBJECT
public:
    explicit EmbeddedRedis(const QString &dataDir, QObject *parent = nullptr);
    ~EmbeddedRedis() override;

    void start();
    // Asks redis-server to save and exit; waits at most timeoutMs (used at shutdown only).
    void stop(int timeoutMs = 5000);
    QString socketPath() const { return m_socketPath; }
    qint64 pid() const { return m_process.processId(); }

Q_SIGNALS:
    void ready(const RedisConfig &config);
    void failed(const QString &reason);

private:
    void onOutput();
    QString m_dataDir;
    QString m_socketPath;
    QProcess m_process;
    QByteArray m_log;
    bool m_ready = false;
};
