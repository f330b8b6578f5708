// The Responses API's pure parts: events derived from stream entries (numbering, order, bytes),
// response ids, request bodies, and the router they are served through. Table-driven.
#include "http/agent/AgentEventEncoder.h"
#include "http/core/Router.h"
#include "http/responses/ResponseEventEncoder.h"
#include "http/responses/ResponseEvents.h"
#include "http/responses/ResponseId.h"
#include "http/responses/ResponsesRequest.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

namespace {
const QByteArray kConversation = "@dafx-travelplanner@0123456789abcdef0123456789abcdef";
const EntryId kTurn{1764633600000, 3};

StreamEntry entry(const EntryId &id, const FieldList &fields)
{
    StreamEntry e;
    e.id = id;
    e.idText = id.toBytes();
    e.fields = fields;
    return e;
}

// A compact script of entries: "T" our turn, "t" another turn, "m:<text>" a message, "F" a tool
// call, "D" done, "E:<code>" error.
QList<StreamEntry> entries(const QStringList &script)
{
    QList<StreamEntry> out;
    EntryId id{kTurn.ms - 100, 0};
    for (const QString &s : script) {
        id = id.next();
        if (s == QLatin1String("T"))
            out << entry(kTurn, {{"type", "turn"}, {"turn", "1"}, {"request", R"({"model":"demo","background":true})"}});
        else if (s == QLatin1String("t"))
            out << entry(id, {{"type", "turn"}, {"turn", "1"}});
        else if (s.startsWith(QLatin1String("m:")))
            out << entry(id = EntryId{qMax(id.ms, kTurn.ms + 1), id.seq}, {{"type", "message"}, {"text", s.mid(2).toUtf8()}});
        else if (s == QLatin1String("F"))
            out << entry(id = EntryId{qMax(id.ms, kTurn.ms + 1), id.seq},
                         {{"type", "tool"}, {"call_id", "call_1"}, {"name", "get_weather_forecast"}, {"arguments", R"({"destination":"Rome"})"},
                          {"output", "sunny"}});
        else if (s == QLatin1String("D"))
            out << entry(id = EntryId{qMax(id.ms, kTurn.ms + 1), id.seq}, {{"type", "done"}});
        else if (s.startsWith(QLatin1String("E:")))
            out << entry(id = EntryId{qMax(id.ms, kTurn.ms + 1), id.seq}, {{"type", "error"}, {"code", s.mid(2).toUtf8()}, {"message", "boom"}});
    }
    return out;
}

QList<ResponseEvents::Event> eventsOf(const QList<StreamEntry> &script, ResponseEvents *state)
{
    QList<ResponseEvents::Event> out;
    for (const StreamEntry &e : script)
        if (state->feed(EntryView::of(e), &out))
            break;
    return out;
}

ResponseId id()
{
    return *ResponseId::of(kConversation, kTurn);
}
} // namespace

class TestResponses : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void events_data();
    void events();
    void deltaBytes();
    void jsonStrings_data();
    void jsonStrings();
    void outputItems();
    void resumeIsASuffix_data();
    void resumeIsASuffix();
    void responseIds_data();
    void responseIds();
    void requests_data();
    void requests();
    void router_data();
    void router();
    void encodeReplay();
};

void TestResponses::events_data()
{
    QTest::addColumn<QStringList>("script");
    QTest::addColumn<QStringList>("types");
    QTest::addColumn<QByteArray>("status");
    QTest::addColumn<QString>("text");
    const QStringList head{"response.created", "response.queued", "response.in_progress"};
    const QStringList open{"response.output_item.added", "response.content_part.added"};
    const QStringList close{"response.output_text.done", "response.content_part.done", "response.output_item.done"};
    QTest::newRow("turn only") << QStringList{"T"} << head << QByteArray("in_progress") << QString();
    QTest::newRow("no text") << QStringList{"T", "D"} << head + QStringList{"response.completed"} << QByteArray("completed") << QString();
    QTest::newRow("two deltas") << QStringList{"T", "m:Hel", "m:lo", "D"}
                                << head + open + QStringList{"response.output_text.delta", "response.output_text.delta"} + close
                                       + QStringList{"response.completed"}
                                << QByteArray("completed") << QStringLiteral("Hello");
    QTest::newRow("earlier turns skipped") << QStringList{"t", "m:old", "D", "T", "m:new", "D"}
                                           << head + open + QStringList{"response.output_text.delta"} + close + QStringList{"response.completed"}
                                           << QByteArray("completed") << QStringLiteral("new");
    QTest::newRow("cancelled: the stream ends") << QStringList{"T", "m:a", "E:cancelled", "m:late"}
                                                << head + open + QStringList{"response.output_text.delta"} << QByteArray("cancelled") << QStringLiteral("a");
    const QStringList tool{"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done",
                           "response.output_item.done"};
    QTest::newRow("tool, then text") << QStringList{"T", "F", "m:ok", "D"}
                                     << head + tool + open + QStringList{"response.output_text.delta"} + close + QStringList{"response.completed"}
                                     << QByteArray("completed") << QStringLiteral("ok");
    QTest::newRow("text, tool, text") << QStringList{"T", "m:a", "F", "m:b", "D"}
                                      << head + open + QStringList{"response.output_text.delta"} + close + tool + open
                                             + QStringList{"response.output_text.delta"} + close + QStringList{"response.completed"}
                                      << QByteArray("completed") << QStringLiteral("a");
    QTest::newRow("failed") << QStringList{"T", "E:provider_error"} << head + QStringList{"response.failed"} << QByteArray("failed") << QString();
    QTest::newRow("after the end nothing") << QStringList{"T", "D", "m:x", "D"} << head + QStringList{"response.completed"} << QByteArray("completed")
                                           << QString();
}

void TestResponses::events()
{
    QFETCH(QStringList, script);
    QFETCH(QStringList, types);
    QFETCH(QByteArray, status);
    QFETCH(QString, text);
    ResponseEvents state(id());
    const auto events = eventsOf(entries(script), &state);
    QStringList got;
    for (qsizetype i = 0; i < events.size(); ++i) {
        got << QString::fromUtf8(events.at(i).type);
        const QJsonObject o = QJsonDocument::fromJson(events.at(i).data).object();
        QCOMPARE(o.value(QStringLiteral("sequence_number")).toInt(), int(i));
        QCOMPARE(o.value(QStringLiteral("type")).toString(), got.last());
        QVERIFY2(!events.at(i).data.contains("agent-streams-text"), events.at(i).data.constData()); // markers spliced
        // Every event is what QJsonDocument writes of it (the spliced texts and the hand-written deltas too).
        QCOMPARE(events.at(i).data, QJsonDocument(o).toJson(QJsonDocument::Compact));
    }
    QCOMPARE(got, types);
    QCOMPARE(state.status(), status);
    const QJsonObject response = state.response();
    QCOMPARE(response.value(QStringLiteral("id")).toString(), QString::fromLatin1(id().toBytes()));
    QCOMPARE(response.value(QStringLiteral("created_at")).toInteger(), qint64(kTurn.ms / 1000));
    QString firstMessage;
    for (const QJsonValue &item : response.value(QStringLiteral("output")).toArray()) {
        if (item[QStringLiteral("type")] == QStringLiteral("message")) {
            firstMessage = item[QStringLiteral("content")][0][QStringLiteral("text")].toString();
            break;
        }
    }
    QCOMPARE(firstMessage, text);
}

void TestResponses::deltaBytes()
{
    // The exact bytes of one event: compact JSON, keys sorted, newlines escaped in one data: line.
    ResponseEventEncoder encoder(id());
    QByteArray out;
    for (const StreamEntry &e : entries({"T", "m:a\nb"}))
        encoder.append(out, EntryView::of(e));
    const QByteArray last = out.mid(out.lastIndexOf("event: "));
    QCOMPARE(last, QByteArray("event: response.output_text.delta\n"
                              "data: {\"content_index\":0,\"delta\":\"a\\nb\",\"item_id\":\"msg_0123456789abcdef0123456789abcdef019adc5be0000003\","
                              "\"logprobs\":[],\"output_index\":0,\"sequence_number\":5,\"type\":\"response.output_text.delta\"}\n\n"));
}

void TestResponses::jsonStrings_data()
{
    QTest::addColumn<QByteArray>("utf8");
    QTest::newRow("plain") << QByteArray("Tokyo in 7 days");
    QTest::newRow("quotes and backslash") << QByteArray(R"(say "hi" \ C:\x)");
    QTest::newRow("newlines, tab, CR") << QByteArray("a\n\nb\tc\r\n");
    QTest::newRow("control characters") << QByteArray("\x01\x08\x0c\x1f\x7f end");
    QTest::newRow("emoji and accents") << QByteArray("S\xc3\xa3o Paulo \xe2\x9b\x85 \xf0\x9f\x8c\xb8");
    QTest::newRow("invalid UTF-8") << QByteArray("bad \xff\xfe and cut \xe2\x9b");
    QTest::newRow("slash and NUL-free") << QByteArray("</script> 1/2");
}

void TestResponses::jsonStrings()
{
    // The hand-written delta must be what QJsonDocument writes, byte for byte.
    QFETCH(QByteArray, utf8);
    QByteArray ours;
    ResponseEvents::appendJsonString(ours, utf8);
    const QByteArray qt = QJsonDocument(QJsonArray{QString::fromUtf8(utf8)}).toJson(QJsonDocument::Compact);
    QCOMPARE(ours, qt.mid(1, qt.size() - 2));
}

void TestResponses::outputItems()
{
    ResponseEvents state(id());
    eventsOf(entries({"T", "m:Let me check. ", "F", "m:Sunny.", "D"}), &state);
    const QJsonArray output = state.response().value(QStringLiteral("output")).toArray();
    QCOMPARE(output.size(), 3);
    QCOMPARE(output.at(0)[QStringLiteral("type")].toString(), QStringLiteral("message"));
    QCOMPARE(output.at(1)[QStringLiteral("type")].toString(), QStringLiteral("function_call"));
    QCOMPARE(output.at(1)[QStringLiteral("name")].toString(), QStringLiteral("get_weather_forecast"));
    QCOMPARE(output.at(1)[QStringLiteral("arguments")].toString(), QStringLiteral(R"({"destination":"Rome"})"));
    QCOMPARE(output.at(1)[QStringLiteral("status")].toString(), QStringLiteral("completed"));
    QCOMPARE(output.at(2)[QStringLiteral("content")][0][QStringLiteral("text")].toString(), QStringLiteral("Sunny."));
    QVERIFY(output.at(0)[QStringLiteral("id")] != output.at(2)[QStringLiteral("id")]);
}

void TestResponses::resumeIsASuffix_data()
{
    QTest::addColumn<int>("after");
    for (int n : {0, 2, 3, 4, 5, 7, 11, 50})
        QTest::addRow("starting_after=%d", n) << n;
}

void TestResponses::resumeIsASuffix()
{
    QFETCH(int, after);
    const auto script = entries({"t", "m:x", "D", "T", "F", "m:one ", "m:two ", "m:three", "D"});
    auto encode = [&](qint64 startingAfter) {
        ResponseEventEncoder encoder(id(), startingAfter);
        QByteArray out;
        for (const StreamEntry &e : script)
            if (encoder.append(out, EntryView::of(e)))
                break;
        return out;
    };
    const QByteArray all = encode(-1);
    const QByteArray rest = encode(after);
    QVERIFY(all.endsWith(rest));
    const int skipped = int(all.left(all.size() - rest.size()).count("event: "));
    QCOMPARE(skipped, qMin(after + 1, int(all.count("event: "))));
}

void TestResponses::responseIds_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("valid");
    QTest::newRow("ours") << id().toBytes() << true;
    QTest::newRow("upper case") << id().toBytes().toUpper().replace("RESP_", "resp_") << false;
    QTest::newRow("short") << id().toBytes().chopped(1) << false;
    QTest::newRow("openai's") << QByteArray("resp_68af4030592c81938ec0a5fbab4a3e9f05438e46b5f69a3b") << true;
    QTest::newRow("null turn") << QByteArray("resp_" + QByteArray(48, '0')) << false;
    QTest::newRow("prefix") << QByteArray("msg_" + id().toBytes().mid(5)) << false;
}

void TestResponses::responseIds()
{
    QFETCH(QByteArray, text);
    QFETCH(bool, valid);
    const auto parsed = ResponseId::parse(text);
    QCOMPARE(bool(parsed), valid);
    if (parsed)
        QCOMPARE(parsed->toBytes(), text);
}

void TestResponses::requests_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("param"); // "-" = valid
    QTest::addColumn<QString>("prompt");
    QTest::newRow("string input") << QByteArray(R"({"model":"demo","input":"Hi","background":true})") << QByteArray("-") << QStringLiteral("Hi");
    QTest::newRow("items") << QByteArray(R"({"model":"m","input":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},)"
                                         R"({"type":"message","role":"user","content":[{"type":"input_text","text":"c"}]}]})")
                           << QByteArray("-") << QStringLiteral("a\n\nc");
    QTest::newRow("not json") << QByteArray("{") << QByteArray("") << QString();
    QTest::newRow("no model") << QByteArray(R"({"input":"x"})") << QByteArray("model") << QString();
    QTest::newRow("no input") << QByteArray(R"({"model":"demo"})") << QByteArray("input") << QString();
    QTest::newRow("empty input") << QByteArray(R"({"model":"demo","input":"  "})") << QByteArray("input") << QString();
    QTest::newRow("bad role") << QByteArray(R"({"model":"demo","input":[{"role":"robot","content":"x"}]})") << QByteArray("input[0].role") << QString();
    QTest::newRow("bad part") << QByteArray(R"({"model":"demo","input":[{"role":"user","content":[{"type":"input_image"}]}]})")
                              << QByteArray("input[0].content") << QString();
    QTest::newRow("background without store") << QByteArray(R"({"model":"demo","input":"x","background":true,"store":false})")
                                              << QByteArray("background") << QString();
    QTest::newRow("stream not bool") << QByteArray(R"({"model":"demo","input":"x","stream":"yes"})") << QByteArray("stream") << QString();
    QTest::newRow("metadata not strings") << QByteArray(R"({"model":"demo","input":"x","metadata":{"a":1}})") << QByteArray("metadata") << QString();
    QTest::newRow("nulls are absent") << QByteArray(R"({"model":"demo","input":"x","instructions":null,"previous_response_id":null,"tools":[]})")
                                      << QByteArray("-") << QStringLiteral("x");
}

void TestResponses::requests()
{
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, param);
    QFETCH(QString, prompt);
    ResponsesRequest::Error error;
    const auto r = ResponsesRequest::parse(body, 1000, &error);
    QCOMPARE(bool(r), param == "-");
    if (r)
        QCOMPARE(r->prompt(), prompt);
    else
        QCOMPARE(error.param, param);
}

void TestResponses::router_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<int>("handler"); // -1 none
    QTest::addColumn<QByteArray>("allow");
    QTest::newRow("literal beats placeholder") << QByteArray("POST") << QByteArray("/a/create") << 0 << QByteArray("POST");
    QTest::newRow("literal path, other method: 405") << QByteArray("GET") << QByteArray("/a/create") << -1 << QByteArray("POST");
    QTest::newRow("placeholder") << QByteArray("GET") << QByteArray("/a/x1") << 1 << QByteArray("GET, DELETE");
    QTest::newRow("second method") << QByteArray("DELETE") << QByteArray("/a/x1") << 2 << QByteArray("GET, DELETE");
    QTest::newRow("nested") << QByteArray("POST") << QByteArray("/a/x1/cancel") << 3 << QByteArray("POST");
    QTest::newRow("unknown: 404") << QByteArray("GET") << QByteArray("/a/x1/y/z") << -1 << QByteArray();
}

void TestResponses::router()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(int, handler);
    QFETCH(QByteArray, allow);
    using M = QHttpServerRequest::Method;
    Router r;
    auto none = [](auto &, auto &&, auto &) {};
    r.add(M::Post, "/a/create", none);
    r.add(M::Get, "/a/{id}", none);
    r.add(M::Delete, "/a/{id}", none);
    r.add(M::Post, "/a/{id}/cancel", none);
    const Router::Match m = r.match(method == "GET" ? M::Get : method == "POST" ? M::Post : M::Delete, path);
    QCOMPARE(m.allow, allow);
    QCOMPARE(m.pathKnown, !allow.isEmpty());
    QCOMPARE(m.route, handler);
    QCOMPARE(bool(m.handler), handler >= 0);
    if (handler > 0)
        QCOMPARE(m.args.value(0), QByteArray("x1"));
}

void TestResponses::encodeReplay()
{
    // A replay of 10,000 chunks of 40 bytes (the benchmark's W3), encoded once per iteration.
    QStringList script{"T"};
    for (int k = 0; k < 10000; ++k)
        script << QStringLiteral("m:%1 1764633600000000 xxxxxxxxxxxxxxxxxxxx\n").arg(k);
    if (!qEnvironmentVariableIsSet("NODONE"))
        script << "D";
    const QList<StreamEntry> all = entries(script);
    const QList<EntryView> views = EntryView::of(all);
    QByteArray out;
    if (qEnvironmentVariableIsSet("NATIVE")) {
        QBENCHMARK {
            AgentEventEncoder encoder(ResponseFormat::Sse, 3000);
            out.clear();
            for (const EntryView &e : views)
                encoder.append(out, e);
        }
        return;
    }
    QBENCHMARK {
        ResponseEventEncoder encoder(id());
        out.clear();
        for (const EntryView &e : views)
            encoder.append(out, e);
    }
    QVERIFY(out.endsWith("\n\n"));
    qInfo() << out.size() << "bytes";
}

QTEST_GUILESS_MAIN(TestResponses)
#include "tst_responses.moc"
