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
};
