#pragma once

#include "RedisServer.h"

#include <QProcess>
#include <QTest>

#include <csignal>

// The app binary (AGENT_STREAMS_BIN, set by ctest) as a separate process on a free port, so
// that it can be killed like a crash or run twice on one Redis.
//
//   AppProcess a;
//   QVERIFY2(a.start(m_redis.connectionString(), {"--demo-pace-ms", "5"}), a.log.constData());
struct AppProcess
{
    QProcess process;
    quint16 port = 0;
    QByteArray log;
    bool start(const QString &redis, const QStringList &extra = {})
    {
        port = RedisServer::freePort();
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(qEnvironmentVariable("AGENT_STREAMS_BIN"),
                      QStringList{QStringLiteral("--headless"), QStringLiteral("--port"), QString::number(port),
                                  QStringLiteral("--redis"), redis} + extra);
        if (!process.waitForStarted(10000))
            return false;
        return QTest::qWaitFor([&] {
            log += process.readAll();
            // Backend::ready: on a Redis Cluster the routers connect to every primary first.
            return log.contains("ready: every Redis connection is up") || process.state() != QProcess::Running;
        }, 20000) && process.state() == QProcess::Running;
    }
    QString baseUrl() const { return QStringLiteral("http://127.0.0.1:%1").arg(port); }
    void kill9()
    {
        ::kill(pid_t(process.processId()), SIGKILL);
        process.waitForFinished(10000);
    }
    ~AppProcess()
    {
        if (process.state() != QProcess::NotRunning) {
            process.terminate();
            process.waitForFinished(5000);
        }
    }
};
