#include "RedisCluster.h"

#include "RedisServer.h"

#include <QDir>
#include <QTcpServer>
#include <QTest>

RedisCluster::~RedisCluster()
{
    stop();
}

quint16 RedisCluster::freeNodePort()
{
    // A node also listens on port + 10000 (the cluster bus): both must be free, and the bus
    // port may collide with an ephemeral port of some outgoing connection.
    for (int attempt = 0; attempt < 100; ++attempt) {
        const quint16 port = RedisServer::freePort();
        if (port == 0 || port > 65535 - 10000)
            continue;
        QTcpServer bus;
        if (bus.listen(QHostAddress::LocalHost, quint16(port + 10000)))
            return port;
    }
    return RedisServer::freePort();
}

bool RedisCluster::startTls(const Tls &tls, int primaries, int replicasPerPrimary)
{
    m_tls = tls;
    return start(primaries, replicasPerPrimary);
}

QStringList RedisCluster::tlsArgs() const
{
    if (!m_tls)
        return {};
    return {QStringLiteral("--tls"), QStringLiteral("--cacert"), m_tls->ca};
}

bool RedisCluster::start(int primaries, int replicasPerPrimary)
{
    const int count = primaries * (1 + replicasPerPrimary);
    QStringList addresses;
    for (int i = 0; i < count; ++i) {
        auto node = std::make_shared<Node>();
        node->port = freeNodePort();
        const QString dir = m_dir.filePath(QString::number(node->port));
        QDir().mkpath(dir);
        node->process = std::make_unique<QProcess>();
        node->process->setProcessChannelMode(QProcess::MergedChannels);
        QStringList listen{QStringLiteral("--port"), QString::number(node->port)};
        if (m_tls)
            listen = {QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--tls-port"), QString::number(node->port),
                      QStringLiteral("--tls-cluster"), QStringLiteral("yes"), QStringLiteral("--tls-replication"), QStringLiteral("yes"),
                      QStringLiteral("--tls-cert-file"), m_tls->cert, QStringLiteral("--tls-key-file"), m_tls->key,
                      QStringLiteral("--tls-ca-cert-file"), m_tls->ca, QStringLiteral("--tls-auth-clients"), QStringLiteral("no")};
        node->process->start(QStringLiteral("redis-server"),
                             listen + QStringList{QStringLiteral("--bind"), QStringLiteral("127.0.0.1"),
                              QStringLiteral("--dir"), dir, QStringLiteral("--save"), QString(), QStringLiteral("--appendonly"), QStringLiteral("no"),
                              QStringLiteral("--cluster-enabled"), QStringLiteral("yes"), QStringLiteral("--cluster-config-file"), QStringLiteral("nodes.conf"),
                              QStringLiteral("--cluster-node-timeout"), QStringLiteral("2000"), QStringLiteral("--repl-diskless-sync-delay"), QStringLiteral("0"),
                              QStringLiteral("--cluster-replica-validity-factor"), QStringLiteral("0"), QStringLiteral("--daemonize"), QStringLiteral("no")});
        if (!node->process->waitForStarted(5000)) {
            m_error = QStringLiteral("redis-server did not start: %1").arg(node->process->errorString());
            return false;
        }
        m_nodes.append(node);
        addresses << QStringLiteral("127.0.0.1:%1").arg(node->port);
    }
    for (const auto &node : std::as_const(m_nodes)) {
        QByteArray log;
        if (!QTest::qWaitFor([&] {
                log += node->process->readAll();
                return log.contains("Ready to accept connections") || node->process->state() != QProcess::Running;
            }, 10000) || node->process->state() != QProcess::Running) {
            m_error = QStringLiteral("cluster node %1 is not ready: %2").arg(node->port).arg(QString::fromLocal8Bit(log.right(600)));
            return false;
        }
    }
    QProcess create;
    create.setProcessChannelMode(QProcess::MergedChannels);
    create.start(QStringLiteral("redis-cli"), tlsArgs() + QStringList{QStringLiteral("--cluster"), QStringLiteral("create")} + addresses
                     + QStringList{QStringLiteral("--cluster-replicas"), QString::number(replicasPerPrimary), QStringLiteral("--cluster-yes")});
    if (!create.waitForFinished(30000) || create.exitCode() != 0) {
        m_error = QStringLiteral("redis-cli --cluster create failed: %1").arg(QString::fromLocal8Bit(create.readAll().right(800)));
        return false;
    }
    return waitForOk();
}

bool RedisCluster::waitForOk(int timeoutMs)
{
    const bool ok = QTest::qWaitFor([&] {
        for (const auto &node : std::as_const(m_nodes))
            if (node->process->state() == QProcess::Running && !cli(node->port, {QStringLiteral("CLUSTER"), QStringLiteral("INFO")}).contains("cluster_state:ok"))
                return false;
        return true;
    }, timeoutMs);
    if (!ok)
        m_error = QStringLiteral("cluster_state is not ok on every node within %1 ms").arg(timeoutMs);
    return ok;
}

void RedisCluster::stop()
{
    for (const auto &node : std::as_const(m_nodes)) {
        if (node->process->state() == QProcess::NotRunning)
            continue;
        node->process->terminate();
        if (!node->process->waitForFinished(5000)) {
            node->process->kill();
            node->process->waitForFinished(2000);
        }
    }
    m_nodes.clear();
}

void RedisCluster::kill(quint16 port)
{
    for (const auto &node : std::as_const(m_nodes))
        if (node->port == port && node->process->state() != QProcess::NotRunning) {
            node->process->kill();
            node->process->waitForFinished(5000);
        }
}

QString RedisCluster::connectionString() const
{
    QStringList parts;
    for (const auto &node : m_nodes)
        parts << QStringLiteral("127.0.0.1:%1").arg(node->port);
    return parts.join(QLatin1Char(','));
}

QList<quint16> RedisCluster::ports() const
{
    QList<quint16> out;
    for (const auto &node : m_nodes)
        out << node->port;
    return out;
}

QByteArray RedisCluster::cli(quint16 port, const QStringList &args) const
{
    QProcess p;
    p.start(QStringLiteral("redis-cli"), tlsArgs() + QStringList{QStringLiteral("-p"), QString::number(port)} + args);
    p.waitForFinished(5000);
    return p.readAllStandardOutput().trimmed();
}

quint16 RedisCluster::primaryOf(const QByteArray &key) const
{
    // Only the primary that serves the key's slot answers a plain read (others say MOVED;
    // replicas redirect too, without READONLY).
    for (const auto &node : m_nodes) {
        if (node->process->state() != QProcess::Running)
            continue;
        const QByteArray answer = cli(node->port, {QStringLiteral("EXISTS"), QString::fromLatin1(key)});
        if (answer == "0" || answer == "1")
            return node->port;
    }
    return 0;
}

quint16 RedisCluster::otherPrimary(quint16 port) const
{
    for (const auto &node : m_nodes)
        if (node->port != port && node->process->state() == QProcess::Running && cli(node->port, {QStringLiteral("ROLE")}).startsWith("master"))
            return node->port;
    return 0;
}

QString RedisCluster::nodeId(quint16 port) const
{
    return QString::fromLatin1(cli(port, {QStringLiteral("CLUSTER"), QStringLiteral("MYID")}));
}

bool RedisCluster::beginMigration(int slot, quint16 source, quint16 target) const
{
    const QString s = QString::number(slot);
    return cli(target, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), s, QStringLiteral("IMPORTING"), nodeId(source)}) == "OK"
        && cli(source, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), s, QStringLiteral("MIGRATING"), nodeId(target)}) == "OK";
}

void RedisCluster::endMigration(int slot, quint16 target) const
{
    const QString id = nodeId(target);
    for (const auto &node : m_nodes)
        if (node->process->state() == QProcess::Running)
            cli(node->port, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), QString::number(slot), QStringLiteral("NODE"), id});
}
