// fuzz_resp_replies: bytes on a Redis connection, read by RespReader (what every
// RedisConnection feeds its socket's bytes into: hiredis's redisReader building reply trees in
// a ReplyArena). Differential: hiredis's own reader with its own reply functions gets the same
// bytes in one piece, and RespReader must hand out the same replies (types, strings, integers,
// nesting) and fail with the same error whatever way the bytes are split: at EVERY byte
// boundary for inputs up to 300 bytes (into two feeds), at 32 spread boundaries above that, and
// in steps of 1-64 bytes (set by the first byte), so partial replies stay in the arena across
// feeds. Replies are freed right after each callback, as the connection does.

#include "FuzzSupport.h"

#include "redis/RespReader.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

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

namespace {
// A reply as text: type, then content, arrays recursively.
void serialize(const redisReply *r, std::string &out)
{
    out += char('0' + r->type);
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        out += std::to_string(r->integer);
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        FUZZ_CHECK(r->str[r->len] == '\0', "a string reply is not terminated");
        out += std::to_string(r->len) + ':';
        out.append(r->str, r->len);
        break;
    case REDIS_REPLY_ARRAY:
        out += std::to_string(r->elements) + '[';
        for (size_t i = 0; i < r->elements; ++i)
            serialize(r->element[i], out);
        out += ']';
        break;
    default:
        break;
    }
}

struct Outcome
{
    std::vector<std::string> replies;
    bool failed = false;
    std::string error;
};

// hiredis's own reader, everything in one feed: the reference.
Outcome reference(const uint8_t *data, size_t size)
{
    Outcome o;
    redisReader *plain = redisReaderCreate();
    redisReaderFeed(plain, reinterpret_cast<const char *>(data), size);
    for (;;) {
        void *reply = nullptr;
        if (redisReaderGetReply(plain, &reply) != REDIS_OK) {
            o.failed = true;
            o.error = plain->errstr;
            break;
        }
        if (!reply)
            break;
        std::string text;
        serialize(static_cast<redisReply *>(reply), text);
        o.replies.push_back(std::move(text));
        freeReplyObject(reply);
    }
    redisReaderFree(plain);
    return o;
}

// RespReader fed in the given pieces.
Outcome viaRespReader(const uint8_t *data, size_t size, const std::vector<size_t> &cuts)
{
    Outcome o;
    RespReader reader;
    size_t from = 0;
    for (size_t i = 0; i <= cuts.size() && !o.failed; ++i) {
        const size_t to = i < cuts.size() ? cuts[i] : size;
        const bool ok = reader.feed(reinterpret_cast<const char *>(data + from), to - from, [&](redisReply *r) {
            std::string text;
            serialize(r, text);
            o.replies.push_back(std::move(text));
            return true;
        });
        if (!ok) {
            o.failed = true;
            o.error = reader.error().toStdString();
        }
        from = to;
    }
    return o;
}

void compare(const Outcome &want, const Outcome &got, const char *how, size_t at)
{
    FUZZ_CHECK(got.failed == want.failed, "%s (%zu): RespReader %s, hiredis %s", how, at, got.failed ? "failed" : "did not fail",
               want.failed ? "failed" : "did not");
    FUZZ_CHECK(got.replies == want.replies, "%s (%zu): %zu replies vs hiredis's %zu, or different ones", how, at, got.replies.size(),
               want.replies.size());
    FUZZ_CHECK(!want.failed || got.error == want.error, "%s (%zu): error \"%s\" vs \"%s\"", how, at, got.error.c_str(), want.error.c_str());
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
    const Outcome want = reference(data, size);
    // Two feeds, cut at every boundary (or 32 spread ones for long inputs).
    const size_t cuts = size <= 300 ? size + 1 : 32;
    for (size_t i = 0; i < cuts; ++i) {
        const size_t at = size <= 300 ? i : i * size / 31;
        compare(want, viaRespReader(data, size, {at > size ? size : at}), "cut", at);
    }
    // Many small feeds.
    std::vector<size_t> steps;
    for (size_t at = step; at < size; at += step)
        steps.push_back(at);
    compare(want, viaRespReader(data, size, steps), "steps of", step);
    return 0;
}
