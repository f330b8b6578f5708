#pragma once

#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>
#include <optional>

// Where and how to reach Redis. Parsed from REDIS_CONNECTION_STRING / --redis:
//   host:port[,host2:port2...][,password=..][,user=..][,defaultDatabase=N][,ssl=True][,sslHost=..]
//       [,connectTimeout=ms][,syncTimeout=ms][,serviceName=<sentinel master>][,cluster=true|false]
//       (StackExchange.Redis form)
//   redis://[user:pass@]host[:port][/db][?cluster=true|false]     rediss://... the same over TLS
//   sentinel://[pass@]h1:26379,h2:26379/<master-name>[?db=N]
//   unix:///path/to/redis.sock[?db=N&password=..]
// StackExchange options that change nothing here are accepted and listed in `ignored`.
struct RedisConfig
{
    QString host = QStringLiteral("localhost");
    int port = 6379;
    // Every endpoint given (host:port pairs; the first is host/port above). Without Sentinel a
    // reconnect tries them in turn; with Sentinel they are the sentinels.
    QList<QPair<QString, int>> endpoints;
    QString unixPath; // non-empty = unix socket
    QString user;
    QString password;
    int database = 0;
    // Sentinel: the primary is asked from the sentinels by this master name.
    QString sentinelMaster;
    QString sentinelPassword;
    // TLS (rediss://, ssl=True): verified against the system CAs plus tlsCaFile.
    bool tls = false;
    QString tlsServerName; // the name the certificate must carry (sslHost=); default: host
    QString tlsCaFile;
    QString tlsCertFile; // client certificate (mutual TLS)
    QString tlsKeyFile;
    bool tlsInsecure = false; // no verification at all (--redis-tls-insecure)
    // Microsoft Entra ID instead of a password (REDIS_AZURE_AUTH=cli, `azure-cli` option): each
    // connection authenticates with a token from the Azure CLI, and again before it expires.
    bool azureCli = false;
    // Redis Cluster: Auto = asked from the first node that answers (INFO cluster says
    // cluster_enabled:1); cluster=true|false in the connection string decides instead.
    enum class Cluster { Auto, On, Off };
    Cluster cluster = Cluster::Auto;
    int connectTimeoutMs = 5000;
    int commandTimeoutMs = 5000; // --redis-timeout-ms, syncTimeout=
    QStringList ignored; // StackExchange options accepted but without effect here

    bool isUnix() const { return !unixPath.isEmpty(); }
    bool isSentinel() const { return !sentinelMaster.isEmpty(); }
    // Whether INFO cluster is worth asking: not cluster=false, not a socket, not Sentinel.
    bool mayBeCluster() const { return cluster != Cluster::Off && !isUnix() && !isSentinel(); }
    // For logs: never includes the password.
    QString describe() const;

    static std::optional<RedisConfig> parse(const QString &text, QString *error);
};
