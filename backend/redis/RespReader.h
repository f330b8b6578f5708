#pragma once

#include "redis/ReplyArena.h"

#include <QString>
#include <functional>
#include <memory>

struct redisReader;
struct redisReply;

// The RESP side of a connection: bytes in (as they arrive, split anywhere), complete reply
// trees out, built in a ReplyArena. hiredis 0.14's redisReader does the parsing; this class
// owns it, hands each reply to the caller and frees it right after (which rewinds the arena),
// so at most one reply tree lives at a time.
//
//   RespReader reader;
//   if (!reader.feed(bytes, n, [](redisReply *r) { use(r); return true; }))
//       drop the connection: reader.error() says why
class RespReader
{
public:
    RespReader();
    ~RespReader();
    RespReader(const RespReader &) = delete;
    RespReader &operator=(const RespReader &) = delete;

    // Calls onReply for every reply the bytes complete (the reply is valid during the call).
    // onReply returns false to stop (the rest stays buffered). Returns false on a protocol
    // error; the reader is then unusable until reset().
    bool feed(const char *data, size_t size, const std::function<bool(redisReply *reply)> &onReply);
    // Forgets buffered bytes and any partial reply (a new connection). Not from inside onReply.
    void reset();
    QString error() const { return m_error; }
    // Bytes held by the arena (for tests and metrics).
    size_t arenaCapacity() const { return m_arena->capacity(); }

private:
    // Declared first so that it is destroyed last: the reader frees partial replies into it.
    std::unique_ptr<ReplyArena> m_arena = std::make_unique<ReplyArena>();
    redisReader *m_reader = nullptr;
    QString m_error;
};
