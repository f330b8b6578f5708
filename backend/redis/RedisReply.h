#pragma once

#include "redis/RedisError.h"

#include <QByteArray>
#include <QList>

struct redisReply;

// A deep copy of a hiredis reply, safe to keep after the callback returns (hiredis frees its
// reply right after the callback).
struct RedisReply
{
    enum class Type { Nil, String, Status, Integer, Array, Error };
    Type type = Type::Nil;
    QByteArray str; // String, Status, Error
    long long integer = 0;
    QList<RedisReply> elements;

    static RedisReply fromHiredis(const redisReply *r);

    bool isNil() const { return type == Type::Nil; }
    bool isError() const { return type == Type::Error; }
    bool isArray() const { return type == Type::Array; }
    QByteArray toBytes() const { return str; }
};

// The one place that turns hiredis state into a RedisError.
RedisError redisErrorFromReply(const RedisReply &reply);
