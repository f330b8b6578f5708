// fuzz_durable_request: the Durable Streams parsers that see client bytes (/v1/stream).
//  - DurableRequest::jsonMessages: an accepted body's messages are each valid JSON, and joined
//    as one array (the GET body) they parse back to as many messages;
//  - ttlSeconds / isProducerNumber: only plain decimal numbers are accepted, and they print
//    back as the same text;
//  - expiresAtMs: never crashes; rejects come with a message;
//  - DurableOffset::parse: an accepted full-width offset is exactly what format() makes of it,
//    and whatever is accepted names the position format() prints (and parses back).

#include "FuzzSupport.h"

#include "durable/DurableOffset.h"
#include "http/durable/DurableRequest.h"

using FuzzSupport::escaped;

namespace {

void checkJson(const QByteArray &body)
{
    QString error;
    const auto messages = DurableRequest::jsonMessages(body, &error);
    if (!messages) {
        FUZZ_CHECK(!error.isEmpty(), "no message for rejected JSON \"%s\"", escaped(body).constData());
        return;
    }
    for (const QByteArray &m : *messages) {
        QString again;
        const auto one = DurableRequest::jsonMessages(m, &again);
        FUZZ_CHECK(one.has_value(), "message \"%s\" of \"%s\" is not JSON", escaped(m).constData(), escaped(body).constData());
    }
    const QByteArray array = DurableRequest::jsonArray(*messages);
    const auto reparsed = DurableRequest::jsonMessages(array, &error);
    FUZZ_CHECK(reparsed && reparsed->size() == messages->size(), "the array of %d messages of \"%s\" does not split back",
               int(messages->size()), escaped(body).constData());
}

void checkNumbers(const QByteArray &text)
{
    QString error;
    if (const auto ttl = DurableRequest::ttlSeconds(text, &error))
        FUZZ_CHECK(QByteArray::number(*ttl) == text, "Stream-TTL \"%s\" accepted as %lld", escaped(text).constData(), qlonglong(*ttl));
    else
        FUZZ_CHECK(!error.isEmpty(), "no message for the rejected TTL \"%s\"", escaped(text).constData());
    if (DurableRequest::isProducerNumber(text))
        FUZZ_CHECK(QByteArray::number(text.toLongLong()) == text || text.startsWith('0'), "producer number \"%s\"",
                   escaped(text).constData());
    QString when;
    if (!DurableRequest::expiresAtMs(text, &when))
        FUZZ_CHECK(!when.isEmpty(), "no message for the rejected expiry \"%s\"", escaped(text).constData());
}

void checkOffset(const QByteArray &text)
{
    const auto offset = DurableOffset::parse(text);
    if (offset && text.size() == 41)
        FUZZ_CHECK(DurableOffset::format(*offset) == text, "offset \"%s\" accepted but prints as \"%s\"", escaped(text).constData(),
                   DurableOffset::format(*offset).constData());
    if (offset)
        FUZZ_CHECK(DurableOffset::parse(DurableOffset::format(*offset)) == offset, "format/parse differ for \"%s\"",
                   escaped(text).constData());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray text(reinterpret_cast<const char *>(data), qsizetype(size));
    checkJson(text);
    checkNumbers(text);
    checkOffset(text);
    return 0;
}
