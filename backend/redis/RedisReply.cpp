#include "redis/RedisReply.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

RedisReply RedisReply::fromHiredis(const redisReply *r)
{
    RedisReply out;
    if (!r)
        return out;
    switch (r->type) {
    case REDIS_REPLY_STRING:
        out.type = Type::String;
        out.str = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_STATUS:
        out.type = Type::Status;
        out.str = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_ERROR:
        out.type = Type::Error;
        out.str = QByteArray(r->str, qsizetype(r->len));
        break;
    case REDIS_REPLY_INTEGER:
        out.type = Type::Integer;
        out.integer = r->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out.type = Type::Array;
        out.elements.reserve(qsizetype(r->elements));
        for (size_t i = 0; i < r->elements; ++i)
            out.elements.append(fromHiredis(r->element[i]));
        break;
    default:
        out.type = Type::Nil;
        break;
    }
    return out;
}

RedisError redisErrorFromContext(const redisAsyncContext *ac)
{
    if (!ac)
        return {RedisError::Kind::Other, QStringLiteral("no redis context")};
    // hiredis copies c.err into ac->err only after the connect/disconnect callbacks ran.
    const int err = ac->err ? ac->err : ac->c.err;
    const char *errstr = ac->err ? ac->errstr : ac->c.errstr;
    const QString text = QString::fromUtf8(errstr ? errstr : "");
    switch (err) {
    case 0:
        return {RedisError::Kind::Closed, QStringLiteral("connection closed")};
    case REDIS_ERR_IO:
        return {RedisError::Kind::Io, text.isEmpty() ? QStringLiteral("I/O error") : text};
    case REDIS_ERR_EOF:
        return {RedisError::Kind::Closed, text.isEmpty() ? QStringLiteral("server closed the connection") : text};
    case REDIS_ERR_PROTOCOL:
        return {RedisError::Kind::Protocol, text};
    default:
        return {RedisError::Kind::Other, text};
    }
}

RedisError redisErrorFromReply(const RedisReply &reply)
{
    if (reply.isError())
        return {RedisError::Kind::Reply, QString::fromUtf8(reply.str)};
    return {};
}
