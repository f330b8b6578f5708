// SSE framing: every text survives a round trip through a conforming SSE parser.
#include "HttpClient.h"
#include "http/Sse.h"
#include "http/agent/AgentEventEncoder.h"

#include <QTest>

class TestSse : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void framing_data();
    void framing();
    void roundTrip_data();
    void roundTrip();
    void entries();
    void commentAndRetry();
};

void TestSse::framing_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QByteArray>("expected");
    QTest::newRow("plain") << QByteArray("hello") << QByteArray("id: 1-0\nevent: message\ndata: hello\n\n");
    QTest::newRow("empty") << QByteArray("") << QByteArray("id: 1-0\nevent: message\ndata: \n\n");
    QTest::newRow("trailing newline") << QByteArray("a\n") << QByteArray("id: 1-0\nevent: message\ndata: a\ndata: \n\n");
    QTest::newRow("blank line inside") << QByteArray("# Title\n\nbody") << QByteArray("id: 1-0\nevent: message\ndata: # Title\ndata: \ndata: body\n\n");
    QTest::newRow("crlf") << QByteArray("a\r\nb") << QByteArray("id: 1-0\nevent: message\ndata: a\ndata: b\n\n");
    QTest::newRow("lone cr") << QByteArray("a\rb") << QByteArray("id: 1-0\nevent: message\ndata: a\ndata: b\n\n");
    QTest::newRow("colon at line start") << QByteArray(": not a comment\n:x") << QByteArray("id: 1-0\nevent: message\ndata: : not a comment\ndata: :x\n\n");
    QTest::newRow("leading space kept") << QByteArray(" indented") << QByteArray("id: 1-0\nevent: message\ndata:  indented\n\n");
    QTest::newRow("non-ascii") << QByteArray("Tōkyō 🗼 東京") << QByteArray("id: 1-0\nevent: message\ndata: Tōkyō 🗼 東京\n\n");
    QTest::newRow("only newlines") << QByteArray("\n\n") << QByteArray("id: 1-0\nevent: message\ndata: \ndata: \ndata: \n\n");
}

void TestSse::framing()
{
    QFETCH(QByteArray, text);
    QFETCH(QByteArray, expected);
    QCOMPARE(Sse::event("1-0", "message", text), expected);
}

void TestSse::roundTrip_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QByteArray>("rebuilt");
    QTest::newRow("markdown") << QByteArray("## Day 1\n\n- a\n- b\n") << QByteArray("## Day 1\n\n- a\n- b\n");
    QTest::newRow("crlf normalised") << QByteArray("x\r\ny\r\n") << QByteArray("x\ny\n");
    QTest::newRow("cr normalised") << QByteArray("x\ry") << QByteArray("x\ny");
    QTest::newRow("utf8") << QByteArray("é\n✈️") << QByteArray("é\n✈️");
    QTest::newRow("data: inside") << QByteArray("data: x\nid: 5") << QByteArray("data: x\nid: 5");
}

void TestSse::roundTrip()
{
    QFETCH(QByteArray, text);
    QFETCH(QByteArray, rebuilt);
    const auto events = HttpClient::parseSse(Sse::event("7-3", "message", text));
    QCOMPARE(events.size(), 1);
    QCOMPARE(events.first().id, QByteArray("7-3"));
    QCOMPARE(events.first().event, QByteArray("message"));
    QCOMPARE(events.first().data, rebuilt);
}

void TestSse::entries()
{
    StreamEntry done{EntryId{5, 1}, "5-1", {{"type", "done"}}};
    QCOMPARE(AgentEventEncoder::frame(done, ResponseFormat::Sse), QByteArray("id: 5-1\nevent: done\ndata: [DONE]\n\n"));
    QCOMPARE(AgentEventEncoder::frame(done, ResponseFormat::Text), QByteArray());
    StreamEntry error{EntryId{6, 0}, "6-0", {{"type", "error"}, {"code", "cancelled"}, {"message", "the run was cancelled"}}};
    QCOMPARE(AgentEventEncoder::frame(error, ResponseFormat::Sse),
             QByteArray("id: 6-0\nevent: error\ndata: {\"code\":\"cancelled\",\"message\":\"the run was cancelled\"}\n\n"));
    QCOMPARE(AgentEventEncoder::frame(error, ResponseFormat::Text), QByteArray("\n[Error: the run was cancelled]\n"));
    StreamEntry message{EntryId{7, 0}, "7-0", {{"type", "message"}, {"text", "a\n\nb"}}};
    QCOMPARE(AgentEventEncoder::frame(message, ResponseFormat::Text), QByteArray("a\n\nb"));
}

void TestSse::commentAndRetry()
{
    QCOMPARE(Sse::retry(3000), QByteArray("retry: 3000\n\n"));
    QCOMPARE(Sse::comment("keep-alive"), QByteArray(": keep-alive\n\n"));
    QCOMPARE(Sse::comment("a\nb"), QByteArray(": a b\n\n"));
}

QTEST_GUILESS_MAIN(TestSse)
#include "tst_sse.moc"
