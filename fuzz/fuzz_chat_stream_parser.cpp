// fuzz_chat_stream_parser: ChatCompletionsStreamParser (what a model provider streams to us)
// fed arbitrary bytes. Properties: no crash / UB; the events, content, tool calls and final
// state are the same whether the bytes arrive at once or cut anywhere; content() is the
// concatenation of the Content events; nothing follows Done or Error.

#include "FuzzSupport.h"

#include "agents/ChatCompletionsStreamParser.h"

#include <fuzzer/FuzzedDataProvider.h>

using FuzzSupport::escaped;
using Parser = ChatCompletionsStreamParser;

namespace {

struct Result
{
    QList<Parser::Event> events;
    QString content, finishReason;
    QList<Parser::ToolCall> toolCalls;
    bool done = false, failed = false, sawData = false;
    bool operator==(const Result &o) const
    {
        return events == o.events && content == o.content && finishReason == o.finishReason && toolCalls == o.toolCalls
               && done == o.done && failed == o.failed && sawData == o.sawData;
    }
};

Result run(const QList<QByteArray> &chunks)
{
    Parser p;
    Result r;
    for (const QByteArray &chunk : chunks)
        r.events += p.feed(chunk);
    r.events += p.finish();
    r.events += p.finish(); // a second finish() adds nothing
    r.content = p.content();
    r.finishReason = p.finishReason();
    r.toolCalls = p.toolCalls();
    r.done = p.isDone();
    r.failed = p.hasError();
    r.sawData = p.sawData();
    return r;
}

void describe(const char *what, const Result &r)
{
    std::fprintf(stderr, "%s: done %d failed %d sawData %d finish \"%s\" content \"%s\"\n", what, r.done, r.failed,
                 r.sawData, qPrintable(r.finishReason), escaped(r.content.toUtf8()).constData());
    for (const Parser::Event &e : r.events)
        std::fprintf(stderr, "  event %d \"%s\"\n", int(e.type), escaped(e.text.toUtf8()).constData());
    for (const Parser::ToolCall &c : r.toolCalls)
        std::fprintf(stderr, "  tool call id \"%s\" name \"%s\" args \"%s\"\n", escaped(c.id.toUtf8()).constData(),
                     escaped(c.name.toUtf8()).constData(), escaped(c.arguments.toUtf8()).constData());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzedDataProvider fdp(data, size);
    const uint32_t seed = fdp.ConsumeIntegral<uint32_t>();
    const std::vector<uint8_t> rest = fdp.ConsumeRemainingBytes<uint8_t>();
    const QByteArray bytes(reinterpret_cast<const char *>(rest.data()), qsizetype(rest.size()));

    const Result once = run({bytes});
    const Result pieces = run(FuzzSupport::split(bytes, seed));
    if (!(once == pieces)) {
        std::fprintf(stderr, "input: \"%s\"\n", escaped(bytes, 2000).constData());
        describe("at once", once);
        describe("in pieces", pieces);
        FUZZ_CHECK(once == pieces, "ChatCompletionsStreamParser depends on how the bytes are cut");
    }

    QString content;
    for (qsizetype i = 0; i < once.events.size(); ++i) {
        const Parser::Event &e = once.events.at(i);
        if (e.type == Parser::Event::Content)
            content += e.text;
        if (e.type == Parser::Event::Done || e.type == Parser::Event::Error)
            FUZZ_CHECK(i == once.events.size() - 1, "an event follows Done/Error");
        if (e.type == Parser::Event::Content)
            FUZZ_CHECK(!e.text.isEmpty(), "an empty Content event");
    }
    FUZZ_CHECK(content == once.content, "content() is not the concatenation of the Content events");
    FUZZ_CHECK(!(once.done && once.failed), "both done and failed");
    FUZZ_CHECK(once.done == (!once.events.isEmpty() && once.events.last().type == Parser::Event::Done));
    FUZZ_CHECK(once.failed == (!once.events.isEmpty() && once.events.last().type == Parser::Event::Error));
    return 0;
}
