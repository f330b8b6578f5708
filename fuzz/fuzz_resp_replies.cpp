// fuzz_resp_replies: bytes on a Redis connection, read by hiredis into reply trees built in a
// ReplyArena (what every RedisConnection does). Differential: a second reader with hiredis's
// own reply functions gets the same bytes, and both must hand out the same replies (types,
// strings, integers, nesting) and fail on the same input. The first byte sets how many bytes
// each feed carries, so partial replies stay in the arena across feeds; replies are freed
// right after they are compared, as hiredis does after a callback.

#include "FuzzSupport.h"

#include "redis/ReplyArena.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <cstring>

namespace {

bool same(const redisReply *a, const redisReply *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case REDIS_REPLY_INTEGER:
        return a->integer == b->integer;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        return a->len == b->len && std::memcmp(a->str, b->str, a->len) == 0 && a->str[a->len] == '\0';
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements)
            return false;
        for (size_t i = 0; i < a->elements; ++i)
            if (!same(a->element[i], b->element[i]))
                return false;
        return true;
    default:
        return true;
    }
}

// hiredis takes an array's element count from its header and allocates the vector up front
// (so does the arena, with calloc like hiredis), before a single element has arrived: a header
// of "*300000000" asks both readers for gigabytes, which libFuzzer's malloc limit reports as a
// crash of neither. Such inputs are out of scope here; Redis is the peer we trust for counts.
bool declaresHugeArray(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; ++i) {
        if (data[i] != '*')
            continue;
        size_t j = i + 1;
        unsigned long long n = 0;
        while (j < size && data[j] >= '0' && data[j] <= '9' && n <= 100000)
            n = n * 10 + (data[j++] - '0');
        if (n > 100000)
            return true;
    }
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const size_t step = 1 + data[0] % 64;
    ++data;
    --size;
    if (declaresHugeArray(data, size))
        return 0;
    ReplyArena arena;
    redisReader *mine = redisReaderCreate();
    redisReader *plain = redisReaderCreate();
    arena.install(mine);
    bool failed = false;
    for (size_t offset = 0; offset < size && !failed; offset += step) {
        const size_t n = size - offset < step ? size - offset : step;
        redisReaderFeed(mine, reinterpret_cast<const char *>(data + offset), n);
        redisReaderFeed(plain, reinterpret_cast<const char *>(data + offset), n);
        for (;;) {
            void *a = nullptr;
            void *b = nullptr;
            const int ra = redisReaderGetReply(mine, &a);
            const int rb = redisReaderGetReply(plain, &b);
            FUZZ_CHECK(ra == rb, "the arena reader says %d, hiredis's own %d", ra, rb);
            if (ra != REDIS_OK) {
                FUZZ_CHECK(std::strcmp(mine->errstr, plain->errstr) == 0, "errors differ: \"%s\" vs \"%s\"", mine->errstr, plain->errstr);
                failed = true;
                break;
            }
            FUZZ_CHECK((a == nullptr) == (b == nullptr), "one reader has a reply, the other not");
            if (!a)
                break;
            FUZZ_CHECK(same(static_cast<redisReply *>(a), static_cast<redisReply *>(b)), "the replies differ");
            mine->fn->freeObject(a);
            freeReplyObject(b);
        }
    }
    redisReaderFree(mine); // frees a partial reply, if any, into the arena
    redisReaderFree(plain);
    return 0;
}
