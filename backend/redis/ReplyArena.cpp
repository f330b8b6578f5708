#include "redis/ReplyArena.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace {
constexpr size_t kBlockBytes = 64 * 1024;
constexpr size_t kKeepBytes = 4 * 1024 * 1024; // what a rewind keeps: a full replay batch (4,000 entries) is ~2 MiB
constexpr size_t kAlign = alignof(std::max_align_t);

// In front of every root object: which arena to rewind when hiredis frees it.
struct alignas(kAlign) RootHeader
{
    ReplyArena *arena;
};

size_t aligned(size_t n)
{
    return (n + kAlign - 1) & ~(kAlign - 1);
}
} // namespace

ReplyArena::~ReplyArena()
{
    for (void *p : m_large)
        std::free(p);
}

void ReplyArena::install(redisReader *reader)
{
    static redisReplyObjectFunctions functions = {&ReplyArena::createString, &ReplyArena::createArray, &ReplyArena::createInteger,
                                                  &ReplyArena::createNil, &ReplyArena::freeObject};
    reader->fn = &functions;
    reader->privdata = this; // hiredis copies it into every read task
}

size_t ReplyArena::capacity() const
{
    size_t total = 0;
    for (const Block &b : m_blocks)
        total += b.size;
    return total;
}

void *ReplyArena::allocate(size_t bytes)
{
    bytes = aligned(bytes);
    while (m_block < m_blocks.size()) {
        Block &b = m_blocks[m_block];
        if (b.size - m_used >= bytes) {
            void *p = b.data.get() + m_used;
            m_used += bytes;
            return p;
        }
        ++m_block;
        m_used = 0;
    }
    Block b;
    b.size = std::max(kBlockBytes, bytes);
    b.data.reset(new char[b.size]);
    m_blocks.push_back(std::move(b));
    m_block = m_blocks.size() - 1;
    m_used = bytes;
    return m_blocks.back().data.get();
}

void ReplyArena::rewind()
{
    for (void *p : m_large)
        std::free(p);
    m_large.clear();
    m_block = 0;
    m_used = 0;
    // Keep enough for a typical reply; give back what one huge reply needed.
    size_t keep = 0, kept = 0;
    while (keep < m_blocks.size() && kept + m_blocks[keep].size <= kKeepBytes)
        kept += m_blocks[keep++].size;
    m_blocks.resize(keep);
}

redisReply *ReplyArena::create(const redisReadTask *task, int type)
{
    redisReply *r;
    if (task->parent) {
        r = static_cast<redisReply *>(allocate(sizeof(redisReply)));
        auto *parent = static_cast<redisReply *>(task->parent->obj);
        parent->element[task->idx] = r;
    } else {
        auto *header = static_cast<RootHeader *>(allocate(sizeof(RootHeader) + sizeof(redisReply)));
        header->arena = this;
        r = reinterpret_cast<redisReply *>(header + 1);
    }
    std::memset(r, 0, sizeof(redisReply));
    r->type = type;
    return r;
}

void *ReplyArena::createString(const redisReadTask *task, char *str, size_t len)
{
    auto *arena = static_cast<ReplyArena *>(task->privdata);
    redisReply *r = arena->create(task, task->type);
    r->str = static_cast<char *>(arena->allocate(len + 1));
    std::memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

void *ReplyArena::createArray(const redisReadTask *task, int elements)
{
    auto *arena = static_cast<ReplyArena *>(task->privdata);
    redisReply *r = arena->create(task, REDIS_REPLY_ARRAY);
    r->elements = size_t(elements);
    if (elements <= 0)
        return r;
    const size_t bytes = size_t(elements) * sizeof(redisReply *);
    if (bytes <= kBlockBytes) {
        r->element = static_cast<redisReply **>(arena->allocate(bytes));
        std::memset(r->element, 0, bytes);
        return r;
    }
    // The count comes from the reply's header, before any element has arrived: like hiredis,
    // take it from calloc (untouched pages cost nothing until the elements come), not from a
    // block we would have to clear.
    r->element = static_cast<redisReply **>(std::calloc(size_t(elements), sizeof(redisReply *)));
    if (!r->element)
        return nullptr; // hiredis reports "Out of memory"
    arena->m_large.push_back(r->element);
    return r;
}

void *ReplyArena::createInteger(const redisReadTask *task, long long value)
{
    auto *arena = static_cast<ReplyArena *>(task->privdata);
    redisReply *r = arena->create(task, REDIS_REPLY_INTEGER);
    r->integer = value;
    return r;
}

void *ReplyArena::createNil(const redisReadTask *task)
{
    auto *arena = static_cast<ReplyArena *>(task->privdata);
    return arena->create(task, REDIS_REPLY_NIL);
}

void ReplyArena::freeObject(void *reply)
{
    if (!reply)
        return;
    // Only roots are freed (hiredis frees a reply tree through its root).
    const auto *header = reinterpret_cast<const RootHeader *>(reply) - 1;
    header->arena->rewind();
}
