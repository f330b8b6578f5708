#pragma once

#include <QList>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <memory>
#include <optional>

// Test fixture: a real Redis Cluster of 3 primaries + 3 replicas (or `primaries` primaries and
// no replicas) on free loopback ports, each node's files in its own directory of one temporary
// directory; stopped by the destructor. About 2-3 s to start (redis-cli --cluster create, then
// cluster_state:ok on every node).
//
//   RedisCluster cluster;
//   QVERIFY2(cluster.start(), qPrintable(cluster.error()));
//   config.redisConnectionString = cluster.connectionString(); // every node, StackExchange form
class RedisCluster
{
public:
    RedisCluster() = default;
    ~RedisCluster();

    bool start(int primaries = 3, int replicasPerPrimary = 1);
    // TLS only (--port 0, --tls-port, --tls-cluster yes, --tls-replication yes): the cluster bus,
    // replication and clients all on TLS; cli() then speaks TLS with `ca`.
    struct Tls
    {
        QString ca, cert, key;
    };
    bool startTls(const Tls &tls, int primaries = 3, int replicasPerPrimary = 0);
    void stop();
    QString error() const { return m_error; }
    // "127.0.0.1:p1,127.0.0.1:p2,..." (every node).
    QString connectionString() const;
    QList<quint16> ports() const;
    // redis-cli against one node (tests only; blocks briefly).
    QByteArray cli(quint16 port, const QStringList &args) const;
    // The port of the primary that serves `key` now.
    quint16 primaryOf(const QByteArray &key) const;
    // A primary other than the one on `port` (0 when there is none).
    quint16 otherPrimary(quint16 port) const;
    // CLUSTER MYID of the node on `port`.
    QString nodeId(quint16 port) const;
    // The first half of a slot migration (SETSLOT IMPORTING on the target, MIGRATING on the
    // source; keys then move with MIGRATE) and its end (SETSLOT NODE on every node).
    bool beginMigration(int slot, quint16 source, quint16 target) const;
    void endMigration(int slot, quint16 target) const;
    // SIGKILL of the node on `port` (a crash).
    void kill(quint16 port);
    // Waits until every running node says cluster_state:ok.
    bool waitForOk(int timeoutMs = 15000);

private:
    struct Node
    {
        quint16 port = 0;
        std::unique_ptr<QProcess> process;
    };
    QStringList tlsArgs() const;
    static quint16 freeNodePort();
    QTemporaryDir m_dir;
    QList<std::shared_ptr<Node>> m_nodes;
    std::optional<Tls> m_tls;
    QString m_error;
};
