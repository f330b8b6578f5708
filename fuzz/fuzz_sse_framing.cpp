// fuzz_sse_framing: the server's SSE framing (backend/http/Sse) against the client's parser
// (ui/SseParser), and that parser against a straightforward reference implementation of the
// WHATWG "event stream interpretation".
//
// Properties:
//  1. Any text framed by Sse::event parses back (whatever the read boundaries) as one event
//     with the same id and event name and the text with CRLF / CR turned into LF; comments and
//     retry hints framed by Sse::comment / Sse::retry dispatch nothing and set retryMs.
//  2. Arbitrary bytes: SseParser never crashes, gives the same events and state whether the
//     bytes arrive at once or in arbitrary pieces, and agrees with the reference parser.

#include "FuzzSupport.h"

#include "SseParser.h"
#include "http/Sse.h"
#include "streams/EntryId.h"

#include <fuzzer/FuzzedDataProvider.h>

using FuzzSupport::escaped;

namespace {

struct Parsed
{
    QList<SseEvent> events;
    QByteArray lastEventId;
    int retryMs = -1;
    int comments = 0;
    bool operator==(const Parsed &o) const
    {
        return events == o.events && lastEventId == o.lastEventId && retryMs == o.retryMs && comments == o.comments;
    }
};

Parsed parseWith(SseParser &parser, const QList<QByteArray> &chunks)
{
    Parsed out;
    for (const QByteArray &chunk : chunks)
        out.events += parser.feed(chunk);
    out.lastEventId = parser.lastEventId();
    out.retryMs = parser.retryMs();
    out.comments = parser.comments();
    return out;
}

// The spec's algorithm, written for clarity over a complete buffer. Deviations that SseParser
// documents are mirrored: data stays bytes, and an event's id is the id: of that event only.
Parsed referenceParse(QByteArray bytes)
{
    Parsed out;
    if (bytes.startsWith("\xEF\xBB\xBF"))
        bytes.remove(0, 3);
    QByteArray data, type, id;
    bool hasData = false, hasId = false;
    qsizetype pos = 0;
    while (true) {
        qsizetype end = pos;
        while (end < bytes.size() && bytes.at(end) != '\r' && bytes.at(end) != '\n')
            ++end;
        if (end == bytes.size())
            break; // an unterminated line (and its event) is discarded at end of stream
        const QByteArray line = bytes.mid(pos, end - pos);
        pos = end + 1;
        if (bytes.at(end) == '\r' && pos < bytes.size() && bytes.at(pos) == '\n')
            ++pos;
        if (line.isEmpty()) {
            if (hasData)
                out.events.append(SseEvent{hasId ? id : QByteArray(), type.isEmpty() ? QByteArray("message") : type, data});
            data.clear(), type.clear(), id.clear();
            hasData = hasId = false;
            continue;
        }
        if (line.startsWith(':')) {
            ++out.comments;
            continue;
        }
        const qsizetype colon = line.indexOf(':');
        const QByteArray field = colon < 0 ? line : line.left(colon);
        QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
        if (value.startsWith(' '))
            value.remove(0, 1);
        if (field == "data") {
            data = hasData ? data + '\n' + value : value;
            hasData = true;
        } else if (field == "event") {
            type = value;
        } else if (field == "id" && !value.contains('\0')) {
            id = value;
            hasId = true;
            out.lastEventId = value;
        } else if (field == "retry" && !value.isEmpty()) {
            bool digits = true;
            for (char c : value)
                digits = digits && c >= '0' && c <= '9';
            bool ok = false;
            const int v = value.toInt(&ok);
            if (digits && ok)
                out.retryMs = v;
        }
    }
    return out;
}

void describe(const char *what, const Parsed &p)
{
    std::fprintf(stderr, "%s: %d events, lastEventId \"%s\", retry %d, comments %d\n", what, int(p.events.size()),
                 escaped(p.lastEventId).constData(), p.retryMs, p.comments);
    for (const SseEvent &e : p.events)
        std::fprintf(stderr, "  id \"%s\" event \"%s\" data \"%s\"\n", escaped(e.id).constData(), escaped(e.event).constData(),
                     escaped(e.data).constData());
}

// The names StreamResponse::frame uses (and none).
const char *const kEventNames[] = {"", "message", "done", "error", "turn"};

void framingRoundTrip(FuzzedDataProvider &fdp, uint32_t seed)
{
    QByteArray wire;
    Parsed expected;
    const int items = fdp.ConsumeIntegralInRange(1, 4);
    for (int i = 0; i < items; ++i) {
        switch (fdp.ConsumeIntegralInRange(0, 5)) {
        case 0: { // comment (keep-alive)
            const std::string text = fdp.ConsumeRandomLengthString(64);
            wire += Sse::comment(QByteArray::fromStdString(text));
            ++expected.comments;
            break;
        }
        case 1: { // retry hint
            const int ms = fdp.ConsumeIntegral<int>();
            wire += Sse::retry(ms);
            if (ms >= 0)
                expected.retryMs = ms;
            break;
        }
        default: { // an event: id from a real EntryId or none, a name the server uses, any text
            QByteArray id;
            if (fdp.ConsumeBool())
                id = EntryId{fdp.ConsumeIntegral<quint64>(), fdp.ConsumeIntegral<quint64>()}.toBytes();
            const QByteArray name = kEventNames[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kEventNames) - 1)];
            const QByteArray text = QByteArray::fromStdString(fdp.ConsumeRandomLengthString(512));
            wire += Sse::event(id, name, text);
            expected.events.append(SseEvent{id, name.isEmpty() ? QByteArray("message") : name,
                                            FuzzSupport::normalizeNewlines(text)});
            if (!id.isEmpty())
                expected.lastEventId = id;
        }
        }
    }
    SseParser parser;
    const Parsed got = parseWith(parser, FuzzSupport::split(wire, seed));
    if (!(got == expected)) {
        std::fprintf(stderr, "wire: \"%s\"\n", escaped(wire, 2000).constData());
        describe("expected", expected);
        describe("parsed", got);
        FUZZ_CHECK(got == expected, "Sse framing does not round-trip through SseParser");
    }
}

void arbitraryBytes(const QByteArray &bytes, uint32_t seed)
{
    SseParser whole;
    const Parsed once = parseWith(whole, {bytes});
    SseParser pieces;
    const Parsed split = parseWith(pieces, FuzzSupport::split(bytes, seed));
    const Parsed reference = referenceParse(bytes);
    if (!(once == split) || !(once == reference)) {
        std::fprintf(stderr, "input: \"%s\"\n", escaped(bytes, 2000).constData());
        describe("at once", once);
        describe("in pieces", split);
        describe("reference", reference);
        FUZZ_CHECK(once == split, "SseParser depends on how the bytes are cut");
        FUZZ_CHECK(once == reference, "SseParser disagrees with the reference parser");
    }
    FUZZ_CHECK(whole.bytesParsed() == bytes.size());
    // After reset() the parser starts clean: the same bytes give the same events again.
    whole.reset();
    FUZZ_CHECK(whole.feed(bytes) == once.events, "reset() left state behind");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzedDataProvider fdp(data, size);
    const uint32_t seed = fdp.ConsumeIntegral<uint32_t>();
    if (fdp.ConsumeBool()) {
        framingRoundTrip(fdp, seed);
    } else {
        const std::vector<uint8_t> rest = fdp.ConsumeRemainingBytes<uint8_t>();
        arbitraryBytes(QByteArray(reinterpret_cast<const char *>(rest.data()), qsizetype(rest.size())), seed);
    }
    return 0;
}
