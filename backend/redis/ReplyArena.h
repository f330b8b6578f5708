#pragma once

#include <cstddef>
#include <memory>
#include <vector>

struct redisReader;
struct redisReadTask;
struct redisReply;

// Memory for the reply trees hiredis builds on one connection.
//
// hiredis's default reply builder makes a malloc'd redisReply per element and a malloc'd
// buffer per string (about a dozen allocations per stream entry of an XRANGE), and frees them
// one by one: a third of the server's time in a replay. With an arena installed, the same
// redisReply trees (callers see no difference) are carved out of a few large blocks, and
// freeing the root just rewinds the arena.
//
// This relies on what hiredis does with a reader: it hands out one complete reply, runs its
// callback, frees it (the root: freeObject is never called on anything else), and only then
// parses the next one. So at most one tree lives in the arena at a time. The arena must
// outlive every reader it is installed in.
class ReplyArena
{
public:
    ReplyArena() = default;
    ~ReplyArena();
    ReplyArena(const ReplyArena &) = delete;
    ReplyArena &operator=(const ReplyArena &) = delete;

    // Makes `reader` build its replies here (replaces its reply object functions).
    void install(redisReader *reader);

    // Bytes held in blocks (kept for the next reply up to a bound).
    size_t capacity() const;

private:
    struct Block
    {
        std::unique_ptr<char[]> data;
        size_t size = 0;
    };
    void *allocate(size_t bytes);
    void rewind();
    redisReply *create(const redisReadTask *task, int type);

    static void *createString(const redisReadTask *task, char *str, size_t len);
    static void *createArray(const redisReadTask *task, int elements);
    static void *createInteger(const redisReadTask *task, long long value);
    static void *createNil(const redisReadTask *task);
    static void freeObject(void *reply);

    std::vector<Block> m_blocks;
    size_t m_block = 0; // the block being filled
    size_t m_used = 0;  // bytes used in it
    std::vector<void *> m_large; // element vectors too large for a block (calloc'd)
};
