#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <memory>
#include <optional>

class RedisCluster;

// Test fixture: a real redis-server on a free loopback port, its files in a temporary
// directory, stopped (and the directory removed) by the destructor.
//
//   RedisServer redis;
//   QVERIFY2(redis.start(), qPrintable(redis.error()));
//   config.redisConnectionString = redis.connectionString();
class RedisServer
{
public:
    RedisServer();
    ~RedisServer();

    // appendOnly: AOF on with fsync always, so that kill + restart keeps every write.
    bool start(bool appendOnly = false);
    // TLS only (no plaintext port): the server's certificate and key, the CA that clients
    // must present certificates from when authClients is set (see TestCertificates).
    struct Tls
    {
        QString ca, cert, key;
        bool authClients = false;
        QString clientCert, clientKey; // what cli() presents when authClients is set
    };
    bool startTls(const Tls &tls);
    QString tlsConnectionString() const { return QStringLiteral("rediss://localhost:%1").arg(m_port); }
    void stop();             // SIGTERM and wait
    void kill();             // SIGKILL and wait: a crash
    // Start again on the same port and directory. untilLoaded false: return once the server
    // listens, while it may still be loading its data (it answers -LOADING meanwhile).
    bool restart(bool untilLoaded = true);
    // More redis-server arguments for the next start (e.g. --enable-debug-command local).
    void setExtraArgs(const QStringList &args) { m_extraArgs = args; }
    qint64 pid() const { return m_process.processId(); }
    QString error() const { return m_error; }
    quint16 port() const { return m_port; }
    // host:port, or rediss://localhost:port for a TLS server, or every node of the cluster.
    QString connectionString() const;
    // With AGENT_STREAMS_TEST_REDIS_CLUSTER=1 every start() starts a Redis Cluster of 3
    // primaries + 3 replicas instead (RedisCluster): suites run unchanged against a cluster.
    // cli() then follows redirects (-c), sends CLIENT/CONFIG/FLUSHALL to every node and sums
    // DBSIZE over the primaries; kill()/restart() of a whole cluster are not offered (cases
    // that restart Redis skip themselves: see clusterMode()).
    static bool clusterMode();
    RedisCluster *cluster() const { return m_cluster.get(); }
    // With AGENT_STREAMS_TEST_REDIS_TLS=1 every start() starts a TLS-only server (certificates
    // made once per process): suites run unchanged against a TLS Redis. The CA that clients
    // need then, or "" (startTestBackend passes it on as --redis-ca).
    static QString testCaFile();
    QString dir() const { return m_dir.path(); }
    bool isRunning() const { return m_process.state() == QProcess::Running; }

    // Runs one command through redis-cli (tests only; blocks briefly) and returns its output.
    QByteArray cli(const QStringList &args) const;

    static quint16 freePort();

private:
    bool launch(bool untilLoaded = true);
    QStringList m_extraArgs;
    std::optional<Tls> m_tls;
    std::shared_ptr<RedisCluster> m_cluster;
    QTemporaryDir m_dir;
    QProcess m_process;
    quint16 m_port = 0;
    bool m_appendOnly = false;
    QString m_error;
};
