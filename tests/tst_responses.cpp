// The Responses API's pure parts: events derived from stream entries (numbering, order, bytes),
// response ids, request bodies, and the router they are served through. Table-driven.
#include "http/agent/AgentEventEncoder.h"
#include "http/core/Router.h"
#include "http/responses/JsonText.h"
#include "http/responses/ResponseCheckpoints.h"
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

// A compact script of entries: "T" our turn, "t" another turn, "m:<text>" a message ("x:<bytes>"
// percent-encoded), "F" a tool call, "D" done, "E:<code>" error.
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
        else if (s.startsWith(QLatin1String("x:"))) // a message of raw bytes, percent-encoded
            out << entry(id = EntryId{qMax(id.ms, kTurn.ms + 1), id.seq},
                         {{"type", "message"}, {"text", QByteArray::fromPercentEncoding(s.mid(2).toLatin1())}});
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
    void doneTexts_data();
    void doneTexts();
    void checkpoints_data();
    void checkpoints();
    void checkpointBudget();
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
    QTest::newRow("long deltas, escapes") << QStringList{"T", "m:Day 1: \"Kyoto\" temples\n\tand tea; ", "m:then São Paulo\\ by air\n", "D"}
                                          << head + open + QStringList{"response.output_text.delta", "response.output_text.delta"} + close
                                                 + QStringList{"response.completed"}
                                          << QByteArray("completed") << QStringLiteral("Day 1: \"Kyoto\" temples\n\tand tea; then São Paulo\\ by air\n");
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
    // 16 bytes at a time: escapes at a block's first and last byte, across blocks, in the tail.
    QTest::newRow("long plain") << QByteArray("Day 1: Kyoto temples, tea ceremony, Gion at dusk and back.");
    QTest::newRow("long, escapes at the edges") << QByteArray("\"23456789abcdef\\\n123456789abcde\"\t\r\x01\x1f end\n");
    QTest::newRow("long, every byte") << QByteArray("\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\"\"\"\\\\\\");
    QTest::newRow("long, UTF-8 after 16") << QByteArray("0123456789abcdefS\xc3\xa3o Paulo \xe2\x9b\x85 and \"more\"");
    QTest::newRow("long, invalid UTF-8 late") << QByteArray("0123456789abcdef0123456789abcdef\xff tail");
}

void TestResponses::jsonStrings()
{
    // The hand-written delta must be what QJsonDocument writes, byte for byte.
    QFETCH(QByteArray, utf8);
    QByteArray ours;
    JsonText::appendQuoted(ours, utf8);
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

void TestResponses::doneTexts_data()
{
    // The done events carry the whole answer, escaped once as the deltas go (ASCII) or again
    // from the whole text (a character split between two chunks must come out whole).
    QTest::addColumn<QStringList>("script");
    QTest::addColumn<qint64>("startingAfter");
    QTest::addColumn<QByteArray>("text");
    const QByteArray sao = "S\xc3\xa3o \"Paulo\"\n";
    QTest::newRow("ascii") << QStringList{"T", "m:a\\b ", "m:\"c\"\n", "m:\t", "D"} << qint64(-1) << QByteArray("a\\b \"c\"\n\t");
    QTest::newRow("accents whole") << QStringList{"T", "m:x ", QStringLiteral("m:") + QString::fromUtf8(sao), "D"} << qint64(-1)
                                   << QByteArray("x " + sao);
    QTest::newRow("a character split between chunks") << QStringList{"T", "m:S", "x:%C3", "x:%A3o", "D"} << qint64(-1) << QByteArray("S\xc3\xa3o");
    QTest::newRow("split, resumed after it") << QStringList{"T", "x:S%C3", "x:%A3o ", "m:end", "D"} << qint64(6) << QByteArray("S\xc3\xa3o end");
    QTest::newRow("resumed past every delta") << QStringList{"T", "m:one ", "m:two", "D"} << qint64(6) << QByteArray("one two");
    QTest::newRow("resumed, then more") << QStringList{"T", "m:one ", "m:two ", "m:three", "D"} << qint64(5) << QByteArray("one two three");
}

void TestResponses::doneTexts()
{
    QFETCH(QStringList, script);
    QFETCH(qint64, startingAfter);
    QFETCH(QByteArray, text);
    ResponseEventEncoder encoder(id(), startingAfter);
    QByteArray out;
    for (const StreamEntry &e : entries(script))
        if (encoder.append(out, EntryView::of(e)))
            break;
    int seen = 0;
    for (const QByteArray &block : out.split('\n')) {
        if (!block.startsWith("data: "))
            continue;
        const QJsonObject o = QJsonDocument::fromJson(block.mid(6)).object();
        const QString type = o.value(QStringLiteral("type")).toString();
        QString got;
        if (type == QLatin1String("response.output_text.done"))
            got = o.value(QStringLiteral("text")).toString();
        else if (type == QLatin1String("response.content_part.done"))
            got = o[QStringLiteral("part")][QStringLiteral("text")].toString();
        else if (type == QLatin1String("response.output_item.done"))
            got = o[QStringLiteral("item")][QStringLiteral("content")][0][QStringLiteral("text")].toString();
        else if (type == QLatin1String("response.completed"))
            got = o[QStringLiteral("response")][QStringLiteral("output")][0][QStringLiteral("content")][0][QStringLiteral("text")].toString();
        else
            continue;
        QCOMPARE(got, QString::fromUtf8(text));
        ++seen;
    }
    QCOMPARE(seen, 4);
}

void TestResponses::checkpoints_data()
{
    QTest::addColumn<qint64>("after");
    for (qint64 n : {0, 1022, 1023, 1024, 1500, 2047, 2048, 2049, 3000, 3100, 3200})
        QTest::addRow("starting_after=%lld", n) << n;
}

void TestResponses::checkpoints()
{
    // A resume from a checkpoint makes exactly the bytes of a resume that reads the response
    // from its first entry (what another instance does), wherever the checkpoint falls: inside
    // a message, after a tool call, in a second message.
    QFETCH(qint64, after);
    QStringList script{"t", "m:old", "D", "T"};
    for (int k = 0; k < 1500; ++k)
        script << QStringLiteral("m:chunk %1 \"q\"\n").arg(k);
    script << "F";
    for (int k = 0; k < 1600; ++k)
        script << QStringLiteral("m:S\u00e3o %1 ").arg(k);
    script << "D";
    const QList<StreamEntry> all = entries(script);
    auto checkpoints = std::make_shared<ResponseCheckpoints>();
    auto encodeFrom = [&](qint64 startingAfter, const ResponseCheckpoints::Checkpoint *from) {
        ResponseEventEncoder encoder(id(), startingAfter, checkpoints, from ? &from->events : nullptr);
        QByteArray out;
        for (const StreamEntry &e : all) {
            if (from && !(from->entry < e.id))
                continue;
            if (encoder.append(out, EntryView::of(e)))
                break;
        }
        return out;
    };
    const QByteArray full = encodeFrom(-1, nullptr); // saves checkpoints as it goes
    QCOMPARE(full.count("event: "), 3 + 2 + 1500 + 3 + 4 + 2 + 1600 + 3 + 1);
    QVERIFY(checkpoints->bytes() > 0);
    const QByteArray expected = encodeFrom(after, nullptr);
    const auto from = checkpoints->find(id(), after);
    QCOMPARE(bool(from), after >= ResponseCheckpoints::kEvery - 1);
    if (from) {
        QVERIFY(from->events.eventCount() <= after + 1);
        QVERIFY(from->events.eventCount() > after + 1 - ResponseCheckpoints::kEvery);
    }
    QCOMPARE(encodeFrom(after, from ? &*from : nullptr), expected);
    QVERIFY(full.endsWith(expected));
    checkpoints->forget(id());
    QCOMPARE(checkpoints->bytes(), 0);
    QVERIFY(!checkpoints->find(id(), after));
}

void TestResponses::checkpointBudget()
{
    // The least recently used response goes first when the answers held pass the budget.
    ResponseCheckpoints checkpoints(100 * 1024); // two of these responses
    auto stateOf = [](const ResponseId &rid, int deltas) {
        ResponseEvents events(rid);
        StreamEntry turn = entry(rid.turnEntry, {{"type", "turn"}, {"request", "{}"}});
        events.feed(EntryView::of(turn), nullptr);
        for (int k = 0; k < deltas; ++k) {
            StreamEntry m = entry(EntryId{rid.turnEntry.ms + 1, quint64(k)}, {{"type", "message"}, {"text", QByteArray(20, 'x')}});
            events.feed(EntryView::of(m), nullptr);
        }
        return events;
    };
    QList<ResponseId> ids;
    for (int r = 0; r < 4; ++r) {
        ids << *ResponseId::of(kConversation, EntryId{kTurn.ms + quint64(r) * 100000, 0});
        checkpoints.offer(ids.last(), stateOf(ids.last(), 1100), EntryId{ids.last().turnEntry.ms + 1, 1099});
        QVERIFY(checkpoints.find(ids.first(), 5000)); // used: the first stays
    }
    QVERIFY(checkpoints.bytes() <= 100 * 1024);
    QVERIFY(checkpoints.find(ids.first(), 5000));
    QVERIFY(!checkpoints.find(ids.at(1), 5000));
    QVERIFY(checkpoints.find(ids.last(), 5000));
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
