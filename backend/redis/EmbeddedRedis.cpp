#include "redis/EmbeddedRedis.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QLoggingCategory>
#include <QStandardPaths>

#include <csignal>
#include <sys/prctl.h>

Q_DECLARE_LOGGING_CATEGORY(lcRedis)

EmbeddedRedis::EmbeddedRedis(const QString &dataDir, QObject *parent)
    : QObject(parent)
    , m_dataDir(dataDir)
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    m_process.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
    connect(&m_process, &QProcess::readyReadStandardOutput, this, &EmbeddedRedis::onOutput);
    connect(&m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            Q_EMIT failed(QStringLiteral("could not start redis-server (%1); install it with: apt-get install redis-server")
                              .arg(m_process.errorString()));
    });
    connect(&m_process, &QProcess::finished, this, [this](int code, QProcess::ExitStatus) {
        if (!m_ready)
            Q_EMIT failed(QStringLiteral("redis-server exited with code %1: %2")
                              .arg(code)
                              .arg(QString::fromLocal8Bit(m_log.right(600)).trimmed()));
        else
            qCWarning(lcRedis) << "embedded redis-server exited with code" << code;
        m_ready = false;
    });
}

EmbeddedRedis::~EmbeddedRedis()
{
    stop(3000);
}

void EmbeddedRedis::start()
{
    if (!QDir().mkpath(m_dataDir)) {
        Q_EMIT failed(QStringLiteral("cannot create the Redis data directory %1").arg(m_dataDir));
        return;
    }
    // sun_path holds 107 bytes; fall back to the runtime directory for deep data paths.
    m_socketPath = QDir(m_dataDir).filePath(QStringLiteral("redis.sock"));
    if (m_socketPath.toLocal8Bit().size() > 100) {
        const QString runtime = QStandardPaths::writableLocation(QStandardPaths::RuntimeLocation);
        m_socketPath = QDir(runtime.isEmpty() ? QDir::tempPath() : runtime)
                           .filePath(QStringLiteral("agent-streams-redis-%1.sock").arg(QCoreApplication::applicationPid()));
    }
    QFile::remove(m_socketPath);
    const QStringList args{
        QStringLiteral("--port"), QStringLiteral("0"),
        QStringLiteral("--unixsocket"), m_socketPath,
        QStringLiteral("--unixsocketperm"), QStringLiteral("700"),
        QStringLiteral("--dir"), m_dataDir,
        QStringLiteral("--appendonly"), QStringLiteral("yes"),
        QStringLiteral("--appendfsync"), QStringLiteral("everysec"),
        QStringLiteral("--save"), QString(),
        QStringLiteral("--daemonize"), QStringLiteral("no"),
        QStringLiteral("--loglevel"), QStringLiteral("notice"),
    };
    qCInfo(lcRedis).noquote() << "starting embedded redis-server: data in" << m_dataDir << "socket" << m_socketPath;
    m_process.start(QStringLiteral("redis-server"), args);
}

void EmbeddedRedis::onOutput()
{
    m_log += m_process.readAllStandardOutput();
    if (m_log.size() > 64 * 1024)
        m_log = m_log.right(16 * 1024);
    if (!m_ready && m_log.toLower().contains("ready to accept connections")) {
        m_ready = true;
        RedisConfig cfg;
        cfg.unixPath = m_socketPath;
        qCInfo(lcRedis).noquote() << "embedded redis-server ready (pid" << m_process.processId() << ")";
        Q_EMIT ready(cfg);
    }
}

void EmbeddedRedis::stop(int timeoutMs)
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_ready = false;
    m_process.disconnect(this);
    m_process.terminate(); // SIGTERM: redis-server flushes the AOF and exits
    if (!m_process.waitForFinished(timeoutMs)) {
        m_process.kill();
        m_process.waitForFinished(1000);
    }
    qCInfo(lcRedis) << "embedded redis-server stopped";
}
