#include "redis/RedisReply.h"

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


RedisError redisErrorFromReply(const RedisReply &reply)
{
    if (reply.isError())
        return {RedisError::Kind::Reply, QString::fromUtf8(reply.str)};
    return {};
}
