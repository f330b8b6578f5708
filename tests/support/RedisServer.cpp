#include "RedisServer.h"

#include "RedisCluster.h"
#include "TestCertificates.h"

#include <QTcpServer>
#include <QTest>

RedisServer::RedisServer()
{
    m_process.setProcessChannelMode(QProcess::MergedChannels);
}

RedisServer::~RedisServer()
{
    stop();
}

quint16 RedisServer::freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

namespace {
TestCertificates *tlsModeCertificates()
{
    if (qEnvironmentVariable("AGENT_STREAMS_TEST_REDIS_TLS") != QLatin1String("1"))
        return nullptr;
    static TestCertificates certs;
    static const bool made = certs.make();
    if (!made)
        qFatal("AGENT_STREAMS_TEST_REDIS_TLS=1: %s", qPrintable(certs.error()));
    return &certs;
}
} // namespace

QString RedisServer::testCaFile()
{
    const TestCertificates *certs = tlsModeCertificates();
    return certs ? certs->ca() : QString();
}

bool RedisServer::clusterMode()
{
    return qEnvironmentVariable("AGENT_STREAMS_TEST_REDIS_CLUSTER") == QLatin1String("1");
}

QString RedisServer::connectionString() const
{
    if (m_cluster)
        return m_cluster->connectionString();
    return m_tls ? tlsConnectionString() : QStringLiteral("127.0.0.1:%1").arg(m_port);
}

bool RedisServer::start(bool appendOnly)
{
    if (clusterMode()) {
        m_cluster = std::make_shared<RedisCluster>();
        if (!m_cluster->start(3, 1)) {
            m_error = m_cluster->error();
            return false;
        }
        m_port = m_cluster->ports().first();
        return true;
    }
    if (const TestCertificates *certs = tlsModeCertificates(); certs && !m_tls)
        m_tls = Tls{certs->ca(), certs->serverCert(), certs->serverKey(), false, {}, {}};
    m_appendOnly = appendOnly;
    m_port = freePort();
    return launch();
}

bool RedisServer::startTls(const Tls &tls)
{
    m_tls = tls;
    m_port = freePort();
    return launch();
}

bool RedisServer::restart(bool untilLoaded)
{
    return launch(untilLoaded);
}

bool RedisServer::launch(bool untilLoaded)
{
    QStringList args{QStringLiteral("--port"), QString::number(m_tls ? 0 : m_port), QStringLiteral("--bind"), QStringLiteral("127.0.0.1"),
                     QStringLiteral("--dir"), m_dir.path(), QStringLiteral("--save"), QString(),
                     QStringLiteral("--daemonize"), QStringLiteral("no"), QStringLiteral("--loglevel"), QStringLiteral("notice")};
    if (m_appendOnly)
        args << QStringLiteral("--appendonly") << QStringLiteral("yes") << QStringLiteral("--appendfsync") << QStringLiteral("always");
    if (m_tls)
        args << QStringLiteral("--tls-port") << QString::number(m_port) << QStringLiteral("--tls-cert-file") << m_tls->cert
             << QStringLiteral("--tls-key-file") << m_tls->key << QStringLiteral("--tls-ca-cert-file") << m_tls->ca
             << QStringLiteral("--tls-auth-clients") << (m_tls->authClients ? QStringLiteral("yes") : QStringLiteral("no"));
    args += m_extraArgs;
    m_process.start(QStringLiteral("redis-server"), args);
    if (!m_process.waitForStarted(5000)) {
        m_error = QStringLiteral("redis-server did not start: %1").arg(m_process.errorString());
        return false;
    }
    QByteArray log;
    const bool ready = QTest::qWaitFor([&] {
        log += m_process.readAll();
        const QByteArray lower = log.toLower();
        return lower.contains("ready to accept connections") || (!untilLoaded && lower.contains("server initialized"))
            || m_process.state() != QProcess::Running;
    }, 10000);
    if (!ready || m_process.state() != QProcess::Running) {
        m_error = QStringLiteral("redis-server is not ready: %1").arg(QString::fromLocal8Bit(log.right(800)));
        return false;
    }
    return true;
}

void RedisServer::stop()
{
    if (m_cluster) {
        m_cluster->stop();
        return;
    }
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.terminate();
    if (!m_process.waitForFinished(5000)) {
        m_process.kill();
        m_process.waitForFinished(2000);
    }
}

void RedisServer::kill()
{
    if (m_process.state() == QProcess::NotRunning)
        return;
    m_process.kill();
    m_process.waitForFinished(5000);
}

QByteArray RedisServer::cli(const QStringList &args) const
{
    if (m_cluster) {
        const QString command = args.value(0).toUpper();
        if (command == QLatin1String("DBSIZE")) {
            qint64 keys = 0;
            for (quint16 port : m_cluster->ports())
                if (m_cluster->cli(port, {QStringLiteral("ROLE")}).startsWith("master"))
                    keys += m_cluster->cli(port, args).toLongLong();
            return QByteArray::number(keys);
        }
        if (command == QLatin1String("CLIENT") || command == QLatin1String("CONFIG") || command == QLatin1String("FLUSHALL")) {
            QByteArray first;
            for (quint16 port : m_cluster->ports()) {
                const QByteArray out = m_cluster->cli(port, args);
                if (first.isEmpty())
                    first = out;
            }
            return first;
        }
        return m_cluster->cli(m_port, QStringList{QStringLiteral("-c")} + args);
    }
    QProcess p;
    QStringList options{QStringLiteral("-p"), QString::number(m_port)};
    if (m_tls) {
        options << QStringLiteral("--tls") << QStringLiteral("--cacert") << m_tls->ca;
        if (m_tls->authClients)
            options << QStringLiteral("--cert") << m_tls->clientCert << QStringLiteral("--key") << m_tls->clientKey;
    }
    p.start(QStringLiteral("redis-cli"), options + args);
    p.waitForFinished(5000);
    return p.readAllStandardOutput().trimmed();
}
