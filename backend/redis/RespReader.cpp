#include "redis/RespReader.h"

#include <hiredis/hiredis.h>

RespReader::RespReader()
{
    reset();
}

RespReader::~RespReader()
{
    if (m_reader)
        redisReaderFree(m_reader);
}

void RespReader::reset()
{
    if (m_reader)
        redisReaderFree(m_reader); // a partial reply goes back to the arena
    m_reader = redisReaderCreate();
    if (m_reader)
        m_arena->install(m_reader);
    m_error.clear();
}

bool RespReader::feed(const char *data, size_t size, const std::function<bool(redisReply *reply)> &onReply)
{
    if (!m_reader) {
        m_error = QStringLiteral("out of memory for the RESP reader");
        return false;
    }
    if (size > 0 && redisReaderFeed(m_reader, data, size) != REDIS_OK) {
        m_error = QString::fromUtf8(m_reader->errstr);
        return false;
    }
    for (;;) {
        void *reply = nullptr;
        if (redisReaderGetReply(m_reader, &reply) != REDIS_OK) {
            m_error = QString::fromUtf8(m_reader->errstr);
            return false;
        }
        if (!reply)
            return true;
        const bool more = onReply(static_cast<redisReply *>(reply));
        m_reader->fn->freeObject(reply); // rewinds the arena
        if (!more)
            return true;
    }
}
