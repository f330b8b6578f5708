// ChatCompletionsStreamParser: the same events whatever way the bytes are cut.
#include "agents/ChatCompletionsStreamParser.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using Parser = ChatCompletionsStreamParser;

namespace {
// One streamed chunk exactly as api.openai.com writes it.
QByteArray chunk(const QByteArray &delta, const QByteArray &finish = "null")
{
    return "data: {\"id\":\"chatcmpl-9x\",\"object\":\"chat.completion.chunk\",\"created\":1731000000,\"model\":\"gpt-4o-mini\","
           "\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":"
        + delta + ",\"logprobs\":null,\"finish_reason\":" + finish + "}]}\n\n";
}
const QByteArray kDone = "data: [DONE]\n\n";

// Events as short strings: "content:Hel", "finish:stop", "done", "error:boom".
QStringList render(const QList<Parser::Event> &events)
{
    QStringList out;
    for (const auto &e : events) {
        switch (e.type) {
        case Parser::Event::Content: out << QStringLiteral("content:") + e.text; break;
        case Parser::Event::Finish: out << QStringLiteral("finish:") + e.text; break;
        case Parser::Event::Done: out << QStringLiteral("done"); break;
        case Parser::Event::Error: out << QStringLiteral("error:") + e.text; break;
        }
    }
    return out;
}

QString renderCalls(const QList<Parser::ToolCall> &calls)
{
    QStringList out;
    for (const auto &c : calls)
        out << c.id + QLatin1Char('|') + c.name + QLatin1Char('|') + c.arguments;
    return out.join(QLatin1Char(';'));
}

struct Result
{
    QStringList events;
    QString calls;
    QString content;
    bool done;
};

Result run(const QList<QByteArray> &pieces)
{
    Parser p;
    QList<Parser::Event> events;
    for (const QByteArray &piece : pieces)
        events += p.feed(piece);
    events += p.finish();
    return Result{render(events), renderCalls(p.toolCalls()), p.content(), p.isDone()};
}

// Expected events may end an error with '*': a prefix match.
bool matches(const QStringList &actual, const QStringList &expected)
{
    if (actual.size() != expected.size())
        return false;
    for (int i = 0; i < actual.size(); ++i) {
        const QString &e = expected.at(i);
        if (e.endsWith(QLatin1Char('*')) ? !actual.at(i).startsWith(e.chopped(1)) : actual.at(i) != e)
            return false;
    }
    return true;
}
} // namespace

class TestChatCompletionsStreamParser : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void stream_data();
    void stream();
    void splitUtf8CharacterWaitsForItsLine();
    void crAtEndOfReadThenLf();
    void oversizedLineIsAnError();
};

void TestChatCompletionsStreamParser::stream_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QStringList>("events");
    QTest::addColumn<QString>("calls");
    QTest::addColumn<bool>("done");

    const QByteArray text = chunk(R"({"role":"assistant","content":"","refusal":null})") + chunk(R"({"content":"Hel"})")
        + chunk(R"({"content":"lo"})") + chunk("{}", "\"stop\"") + kDone;
    const QStringList textEvents{"content:Hel", "content:lo", "finish:stop", "done"};
    QTest::newRow("openai text") << text << textEvents << QString() << true;

    QByteArray crlf = text;
    crlf.replace("\n", "\r\n");
    QTest::newRow("crlf") << crlf << textEvents << QString() << true;
    QByteArray cr = text;
    cr.replace("\n", "\r");
    QTest::newRow("lone cr") << cr << textEvents << QString() << true;

    QTest::newRow("comments, keep-alives, id and retry")
        << QByteArray(": keep-alive\n\n" + chunk(R"({"content":"a"})") + ": OPENROUTER PROCESSING\n\nretry: 3000\nid: 7\n"
                      + chunk(R"({"content":"b"})") + "\n\n\n" + kDone)
        << QStringList{"content:a", "content:b", "done"} << QString() << true;

    QTest::newRow("utf-8") << QByteArray(chunk(R"({"content":"Tōkyō 🗼 "})") + chunk(R"({"content":"東京 ✈️"})") + kDone)
                           << QStringList{QStringLiteral("content:Tōkyō 🗼 "), QStringLiteral("content:東京 ✈️"), "done"} << QString()
                           << true;
    QTest::newRow("escaped utf-16 surrogates") << QByteArray(chunk(R"({"content":"\ud83d\uddfc"})") + kDone)
                                               << QStringList{QStringLiteral("content:🗼"), "done"} << QString() << true;

    // Two calls, interleaved, with arguments split mid-token, as OpenAI streams parallel calls.
    const QByteArray tools =
        chunk(R"({"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather_forecast","arguments":""}}]})")
        + chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"destina"}}]})")
        + chunk(R"({"tool_calls":[{"index":1,"id":"call_B","type":"function","function":{"name":"get_local_events","arguments":""}}]})")
        + chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"tion\":\"Oslo\",\"date\":\"2025-06-01\"}"}}]})")
        + chunk(R"({"tool_calls":[{"index":1,"function":{"arguments":"{\"destination\":\"Oslo\",\"date\":\"2025-06-01\"}"}}]})")
        + chunk("{}", "\"tool_calls\"") + kDone;
    QTest::newRow("tool calls by index")
        << tools << QStringList{"finish:tool_calls", "done"}
        << QStringLiteral(R"(call_A|get_weather_forecast|{"destination":"Oslo","date":"2025-06-01"};)"
                          R"(call_B|get_local_events|{"destination":"Oslo","date":"2025-06-01"})")
        << true;

    QTest::newRow("content then tool call")
        << QByteArray(chunk(R"({"content":"Checking."})")
                      + chunk(R"({"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"get_local_events","arguments":"{}"}}]})")
                      + chunk("{}", "\"tool_calls\"") + kDone)
        << QStringList{"content:Checking.", "finish:tool_calls", "done"} << QStringLiteral("c1|get_local_events|{}") << true;

    // Ollama: whole calls in one chunk, no "index", arguments sometimes an object.
    QTest::newRow("calls without index")
        << QByteArray(chunk(R"({"tool_calls":[{"id":"x1","function":{"name":"get_weather_forecast","arguments":{"destination":"Rome","date":"2025-01-02"}}},)"
                            R"({"id":"x2","function":{"name":"get_local_events","arguments":"{}"}}]})")
                      + chunk(R"({"tool_calls":[{"id":"x3","function":{"name":"get_local_events","arguments":"{}"}}]})", "\"stop\"") + kDone)
        << QStringList{"finish:stop", "done"}
        << QStringLiteral(R"(x1|get_weather_forecast|{"date":"2025-01-02","destination":"Rome"};x2|get_local_events|{};x3|get_local_events|{})")
        << true;

    QTest::newRow("multi-line data joined with LF")
        << QByteArray("data: {\"choices\":[{\"index\":0,\n"
                      "data: \"delta\":{\"content\":\"x\"}}]}\n\n"
                      + kDone)
        << QStringList{"content:x", "done"} << QString() << true;

    QTest::newRow("data without space after colon") << QByteArray("data:{\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\n\ndata:[DONE]\n\n")
                                                   << QStringList{"content:y", "done"} << QString() << true;

    QTest::newRow("nothing after [DONE]") << QByteArray(chunk(R"({"content":"a"})") + kDone + chunk(R"({"content":"late"})") + "garbage\n\n")
                                          << QStringList{"content:a", "done"} << QString() << true;

    QTest::newRow("azure prompt-filter chunk and null content")
        << QByteArray(R"(data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0}]})"
                      "\n\n"
                      + chunk(R"({"content":null})") + chunk(R"({"content":"ok"})") + chunk("{}", "\"stop\"")
                      + R"(data: {"id":"u","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}})" "\n\n" + kDone)
        << QStringList{"content:ok", "finish:stop", "done"} << QString() << true;

    QTest::newRow("other choices ignored") << QByteArray(R"(data: {"choices":[{"index":1,"delta":{"content":"no"}},{"index":0,"delta":{"content":"yes"}}]})"
                                                         "\n\n" + kDone)
                                           << QStringList{"content:yes", "done"} << QString() << true;

    QTest::newRow("bom") << QByteArray("\xEF\xBB\xBF" + chunk(R"({"content":"b"})") + kDone) << QStringList{"content:b", "done"}
                         << QString() << true;

    QTest::newRow("error object mid-stream")
        << QByteArray(chunk(R"({"content":"a"})") + R"(data: {"error":{"message":"The server had an error","type":"server_error"}})" "\n\n"
                      + chunk(R"({"content":"never"})"))
        << QStringList{"content:a", "error:The server had an error"} << QString() << false;

    QTest::newRow("event: error") << QByteArray("event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n")
                                  << QStringList{"error:overloaded"} << QString() << false;

    QTest::newRow("malformed json") << QByteArray(chunk(R"({"content":"a"})") + "data: {\"choices\":[\n\n")
                                    << QStringList{"content:a", "error:the provider sent a malformed stream chunk*"} << QString() << false;

    QTest::newRow("last event without blank line") << QByteArray(chunk(R"({"content":"a"})") + "data: [DONE]")
                                                   << QStringList{"content:a", "done"} << QString() << true;

    QTest::newRow("ended without [DONE]") << QByteArray(chunk(R"({"content":"a"})")) << QStringList{"content:a"} << QString() << false;
}

void TestChatCompletionsStreamParser::stream()
{
    QFETCH(QByteArray, input);
    QFETCH(QStringList, events);
    QFETCH(QString, calls);
    QFETCH(bool, done);

    const Result whole = run({input});
    QVERIFY2(matches(whole.events, events), qPrintable(whole.events.join(QLatin1String(" / "))));
    QCOMPARE(whole.calls, calls);
    QCOMPARE(whole.done, done);

    // Cut once at every byte position (inside lines, CRLFs, UTF-8 characters, JSON strings).
    for (qsizetype at = 0; at <= input.size(); ++at) {
        const Result r = run({input.left(at), input.mid(at)});
        QVERIFY2(r.events == whole.events && r.calls == whole.calls && r.done == whole.done,
                 qPrintable(QStringLiteral("split at %1: %2").arg(at).arg(r.events.join(QLatin1String(" / ")))));
    }
    // And one byte per read.
    QList<QByteArray> bytes;
    for (char c : input)
        bytes << QByteArray(1, c);
    const Result r = run(bytes);
    QCOMPARE(r.events, whole.events);
    QCOMPARE(r.calls, whole.calls);
    QCOMPARE(r.content, whole.content);
}

void TestChatCompletionsStreamParser::splitUtf8CharacterWaitsForItsLine()
{
    const QByteArray event = chunk(R"({"content":"🗼"})");
    const qsizetype cut = event.indexOf("\xF0\x9F") + 2; // in the middle of the 4-byte character
    Parser p;
    QVERIFY(p.feed(event.left(cut)).isEmpty());
    QVERIFY(p.bufferedBytes() > 0);
    QCOMPARE(render(p.feed(event.mid(cut))), QStringList{QStringLiteral("content:🗼")});
    QCOMPARE(p.bufferedBytes(), 0);
}

void TestChatCompletionsStreamParser::crAtEndOfReadThenLf()
{
    Parser p;
    QCOMPARE(render(p.feed("data: [DONE]\r")), QStringList{});
    QCOMPARE(render(p.feed("\n\r\n")), QStringList{"done"}); // one line end, then the blank line
}

void TestChatCompletionsStreamParser::oversizedLineIsAnError()
{
    Parser p;
    const QByteArray big(Parser::kMaxEventBytes / 4 + 1, 'a');
    QList<Parser::Event> events;
    for (int i = 0; i < 5 && events.isEmpty(); ++i)
        events = p.feed(i == 0 ? "data: " + big : big);
    QCOMPARE(events.size(), 1);
    QCOMPARE(events.first().type, Parser::Event::Error);
    QVERIFY(p.hasError());
    QVERIFY(p.feed(chunk(R"({"content":"x"})")).isEmpty());
}

QTEST_GUILESS_MAIN(TestChatCompletionsStreamParser)
#include "tst_chatcompletionsstreamparser.moc"
