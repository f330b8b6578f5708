#pragma once

#include <QString>
#include <optional>

// Where and how to reach Redis. Parsed from REDIS_CONNECTION_STRING / --redis:
//   host:port[,password=..][,user=..][,defaultDatabase=N]   (StackExchange.Redis style)
//   redis://[user:pass@]host[:port][/db]
//   unix:///path/to/redis.sock[?db=N&password=..]
struct RedisConfig
{
    QString host = QStringLiteral("localhost");
    int port = 6379;
    QString unixPath; // non-empty = unix socket
    QString user;
    QString password;
    int database = 0;

    bool isUnix() const { return !unixPath.isEmpty(); }
    // For logs: never includes the password.
    QString describe() const;

    static std::optional<RedisConfig> parse(const QString &text, QString *error);
};
