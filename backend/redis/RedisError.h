#pragma once

#include <QString>

// A Redis failure as a value. Built in one place (RedisReply.cpp: fromContext / fromReply).
struct RedisError
{
    enum class Kind {
        None,
        Io,          // socket error, connection refused, reset
        Closed,      // connection closed (EOF, or we disconnected with commands pending)
        Protocol,    // malformed reply
        Reply,       // the server answered with an error reply (-ERR ...)
        Timeout,     // no answer within our own deadline (hiredis 0.14 has none)
        Config,      // bad connection string
        Other,
    };
    Kind kind = Kind::None;
    QString message;

    bool isError() const { return kind != Kind::None; }
    // True when retrying on a fresh connection may succeed.
    bool isConnectionError() const
    {
        return kind == Kind::Io || kind == Kind::Closed || kind == Kind::Timeout
            || kind == Kind::Protocol;
    }
    // An error reply that says "not now" rather than "no": Redis is replaying its append-only
    // file after a restart (LOADING), a script or module is running too long (BUSY), a replica
    // took over or the primary lost its replicas (READONLY, MASTERDOWN), a cluster is
    // resharding or not serving (TRYAGAIN, CLUSTERDOWN). The same command, sent again shortly
    // on the same connection, can succeed.
    bool isTransientReply() const
    {
        if (kind != Kind::Reply)
            return false;
        for (const char *prefix : {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN"})
            if (message.startsWith(QLatin1String(prefix)) && (message.size() == qsizetype(qstrlen(prefix)) || message.at(qstrlen(prefix)) == u' '))
                return true;
        return false;
    }
    // Worth sending again (on this connection or the next one): nothing was refused for good.
    bool isRetryable() const { return isConnectionError() || isTransientReply(); }
};
