// SseParser, EventId, Backoff and StreamVerifier::compare: pure units, table-driven.
#include "Backoff.h"
#include "EventId.h"
#include "SseParser.h"
#include "StreamVerifier.h"

#include <QTest>

namespace {
// Events as "id|event|data" strings: easy to write in tables and readable in failures.
QStringList flatten(const QList<SseEvent> &events)
{
    QStringList out;
    for (const SseEvent &e : events)
        out << QString::fromUtf8(e.id + '|' + e.event + '|' + e.data);
    return out;
}

QList<SseEvent> feedAll(SseParser &p, const QList<QByteArray> &chunks)
{
    QList<SseEvent> out;
    for (const QByteArray &c : chunks)
        out += p.feed(c);
    return out;
}

const QByteArray kServerStream = "retry: 3000\n\n"
                                 "id: 1700000000000-0\nevent: turn\ndata: {\"prompt\":\"Plan\",\"turn\":1}\n\n"
                                 "id: 1700000000001-0\nevent: message\ndata: # Title\ndata: \ndata: Here \n\n"
                                 ": keep-alive\n\n"
                                 "id: 1700000000002-0\nevent: message\ndata: is **bold**\n\n"
                                 "id: 1700000000002-1\nevent: message\ndata: \xE2\x9C\x88\xEF\xB8\x8F caf\xC3\xA9\n\n"
                                 "id: 1700000000003-0\nevent: done\ndata: [DONE]\n\n";
} // namespace

class TestSseParser : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parse_data();
    void parse();
    void everySplitGivesTheSameEvents_data();
    void everySplitGivesTheSameEvents();
    void retry_data();
    void retry();
    void commentsAndLastEventId();
    void resetDropsPartialEvent();

    void eventId_data();
    void eventId();
    void eventIdOrder();
    void backoff();
    void compare_data();
    void compare();
};

void TestSseParser::parse_data()
{
    QTest::addColumn<QList<QByteArray>>("chunks");
    QTest::addColumn<QStringList>("expected");

    QTest::newRow("one event, LF") << QList<QByteArray>{"id: 1-0\nevent: message\ndata: hi\n\n"} << QStringList{"1-0|message|hi"};
    QTest::newRow("CRLF") << QList<QByteArray>{"id: 1-0\r\nevent: message\r\ndata: hi\r\n\r\n"} << QStringList{"1-0|message|hi"};
    QTest::newRow("CR only") << QList<QByteArray>{"id: 1-0\revent: message\rdata: hi\r\r"} << QStringList{"1-0|message|hi"};
    QTest::newRow("CRLF split between reads") << QList<QByteArray>{"data: a\r", "\n\r", "\ndata: b\r\n\r\n"} << QStringList{"|message|a", "|message|b"};
    QTest::newRow("multi-line data") << QList<QByteArray>{"data: line 1\ndata: \ndata: line 3\n\n"} << QStringList{"|message|line 1\n\nline 3"};
    QTest::newRow("event split mid-field") << QList<QByteArray>{"id: 5-", "1\nev", "ent: turn\nda", "ta: {\"turn\":2}", "\n", "\n"}
                                           << QStringList{"5-1|turn|{\"turn\":2}"};
    QTest::newRow("default type is message") << QList<QByteArray>{"data: x\n\n"} << QStringList{"|message|x"};
    QTest::newRow("no space after colon") << QList<QByteArray>{"data:x\n\n"} << QStringList{"|message|x"};
    QTest::newRow("only one space removed") << QList<QByteArray>{"data:  x \n\n"} << QStringList{"|message| x "};
    QTest::newRow("field without colon = empty value") << QList<QByteArray>{"data\n\n"} << QStringList{"|message|"};
    QTest::newRow("comments ignored") << QList<QByteArray>{": keep-alive\ndata: a\n: more\n\n"} << QStringList{"|message|a"};
    QTest::newRow("unknown fields ignored") << QList<QByteArray>{"foo: bar\ndata: a\n\n"} << QStringList{"|message|a"};
    QTest::newRow("no data, no dispatch") << QList<QByteArray>{"id: 1-0\nevent: message\n\n"} << QStringList{};
    QTest::newRow("blank lines alone") << QList<QByteArray>{"\n\n\r\n\r\n"} << QStringList{};
    QTest::newRow("unterminated event waits") << QList<QByteArray>{"data: a\n\ndata: b\n"} << QStringList{"|message|a"};
    QTest::newRow("BOM at start") << QList<QByteArray>{"\xEF\xBB\xBF" "data: a\n\n"} << QStringList{"|message|a"};
    QTest::newRow("id with NUL ignored") << QList<QByteArray>{QByteArray("id: 1\0x\ndata: a\n\n", 17)} << QStringList{"|message|a"};
    QTest::newRow("markdown with blank lines and colons")
        << QList<QByteArray>{"event: message\ndata: ## Day 1: Lisbon\ndata: \ndata: - 09:00 tram 28\ndata: \n\n"}
        << QStringList{"|message|## Day 1: Lisbon\n\n- 09:00 tram 28\n"};
    QTest::newRow("the server's framing")
        << QList<QByteArray>{kServerStream}
        << QStringList{"1700000000000-0|turn|{\"prompt\":\"Plan\",\"turn\":1}", "1700000000001-0|message|# Title\n\nHere ",
                       "1700000000002-0|message|is **bold**", QString::fromUtf8("1700000000002-1|message|\xE2\x9C\x88\xEF\xB8\x8F caf\xC3\xA9"),
                       "1700000000003-0|done|[DONE]"};
}

void TestSseParser::parse()
{
    QFETCH(QList<QByteArray>, chunks);
    QFETCH(QStringList, expected);
    SseParser p;
    QCOMPARE(flatten(feedAll(p, chunks)), expected);
}

void TestSseParser::everySplitGivesTheSameEvents_data()
{
    QTest::addColumn<QByteArray>("stream");
    QTest::newRow("LF") << kServerStream;
    QByteArray crlf = kServerStream;
    crlf.replace("\n", "\r\n");
    QTest::newRow("CRLF") << crlf;
    QByteArray cr = kServerStream;
    cr.replace("\n", "\r");
    QTest::newRow("CR") << cr;
}

void TestSseParser::everySplitGivesTheSameEvents()
{
    QFETCH(QByteArray, stream);
    SseParser whole;
    const QStringList expected = flatten(whole.feed(stream));
    QCOMPARE(expected.size(), 5);
    // Every chunk size, and every single cut point into two reads.
    for (int size = 1; size <= 17; ++size) {
        SseParser p;
        QList<QByteArray> chunks;
        for (qsizetype i = 0; i < stream.size(); i += size)
            chunks << stream.mid(i, size);
        QCOMPARE(flatten(feedAll(p, chunks)), expected);
    }
    for (qsizetype cut = 0; cut <= stream.size(); ++cut) {
        SseParser p;
        QCOMPARE(flatten(feedAll(p, {stream.left(cut), stream.mid(cut)})), expected);
    }
}

void TestSseParser::retry_data()
{
    QTest::addColumn<QByteArray>("stream");
    QTest::addColumn<int>("retry");
    QTest::newRow("server hint") << QByteArray("retry: 3000\n\n") << 3000;
    QTest::newRow("no space") << QByteArray("retry:1500\n") << 1500;
    QTest::newRow("last wins") << QByteArray("retry: 10\nretry: 20\n") << 20;
    QTest::newRow("not digits ignored") << QByteArray("retry: 3s\n") << -1;
    QTest::newRow("negative ignored") << QByteArray("retry: -5\n") << -1;
    QTest::newRow("empty ignored") << QByteArray("retry:\n") << -1;
    QTest::newRow("none") << QByteArray("data: x\n\n") << -1;
}

void TestSseParser::retry()
{
    QFETCH(QByteArray, stream);
    QFETCH(int, retry);
    SseParser p;
    p.feed(stream);
    QCOMPARE(p.retryMs(), retry);
}

void TestSseParser::commentsAndLastEventId()
{
    SseParser p;
    const QList<SseEvent> events = p.feed("id: 7-0\ndata: a\n\n: ping\n:\ndata: b\n\n");
    QCOMPARE(events.size(), 2);
    QCOMPARE(events.at(0).id, QByteArray("7-0"));
    QCOMPARE(events.at(1).id, QByteArray()); // this event carried no id...
    QCOMPARE(p.lastEventId(), QByteArray("7-0")); // ...but the spec's buffer keeps the last one
    QCOMPARE(p.comments(), 2);
}

void TestSseParser::resetDropsPartialEvent()
{
    SseParser p;
    QVERIFY(p.feed("id: 1-0\ndata: half").isEmpty());
    p.reset(); // connection lost mid-event: a resumed stream starts clean
    QCOMPARE(flatten(p.feed("id: 2-0\ndata: whole\n\n")), QStringList{"2-0|message|whole"});
}

void TestSseParser::eventId_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<quint64>("ms");
    QTest::addColumn<quint64>("seq");
    QTest::newRow("redis id") << QByteArray("1700000000000-3") << true << quint64(1700000000000) << quint64(3);
    QTest::newRow("zero") << QByteArray("0-0") << true << quint64(0) << quint64(0);
    QTest::newRow("no seq") << QByteArray("1700000000000") << false << quint64(0) << quint64(0);
    QTest::newRow("empty") << QByteArray() << false << quint64(0) << quint64(0);
    QTest::newRow("letters") << QByteArray("12-a") << false << quint64(0) << quint64(0);
    QTest::newRow("spaces") << QByteArray(" 1-2") << false << quint64(0) << quint64(0);
    QTest::newRow("dash only") << QByteArray("-") << false << quint64(0) << quint64(0);
    QTest::newRow("too long") << QByteArray("123456789012345678901-0") << false << quint64(0) << quint64(0);
}

void TestSseParser::eventId()
{
    QFETCH(QByteArray, text);
    QFETCH(bool, valid);
    QFETCH(quint64, ms);
    QFETCH(quint64, seq);
    const EventId id = EventId::parse(text);
    QCOMPARE(id.valid, valid);
    if (valid) {
        QCOMPARE(id.ms, ms);
        QCOMPARE(id.seq, seq);
        QCOMPARE(id.toText(), text);
    }
}

void TestSseParser::eventIdOrder()
{
    // Numeric, not lexicographic: "9-0" < "10-0", "5-9" < "5-10".
    QVERIFY(EventId::parse("9-0") < EventId::parse("10-0"));
    QVERIFY(EventId::parse("5-9") < EventId::parse("5-10"));
    QVERIFY(EventId::parse("5-10") <= EventId::parse("5-10"));
    QVERIFY(!(EventId::parse("6-0") <= EventId::parse("5-99")));
}

void TestSseParser::backoff()
{
    Backoff b(100, 1000);
    b.setJitter(false);
    QList<int> delays;
    for (int i = 0; i < 6; ++i)
        delays << b.next();
    QCOMPARE(delays, (QList<int>{100, 200, 400, 800, 1000, 1000}));
    QCOMPARE(b.attempts(), 6);
    b.reset();
    QCOMPARE(b.next(), 100);
    Backoff j(1000, 1000);
    for (int i = 0; i < 50; ++i) {
        const int d = j.next();
        QVERIFY2(d >= 800 && d <= 1200, qPrintable(QString::number(d)));
    }
}

void TestSseParser::compare_data()
{
    QTest::addColumn<ReceivedEvents>("replay");
    QTest::addColumn<ReceivedEvents>("received");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<int>("missing");
    QTest::addColumn<int>("extra");
    QTest::addColumn<int>("mismatched");
    QTest::addColumn<QByteArrayList>("differingIds"); // what the timeline marks
    const ReceivedEvent t{"1-0", "turn", "{}"};
    const ReceivedEvent a{"2-0", "message", "Hello "};
    const ReceivedEvent b{"3-0", "message", "world"};
    const ReceivedEvent d{"4-0", "done", "[DONE]"};
    QTest::newRow("identical") << ReceivedEvents{t, a, b, d} << ReceivedEvents{t, a, b, d} << true << 0 << 0 << 0 << QByteArrayList{};
    QTest::newRow("gap") << ReceivedEvents{t, a, b, d} << ReceivedEvents{t, a, d} << false << 1 << 0 << 0 << QByteArrayList{"3-0"};
    QTest::newRow("extra") << ReceivedEvents{t, a, d} << ReceivedEvents{t, a, b, d} << false << 0 << 1 << 0 << QByteArrayList{"3-0"};
    QTest::newRow("different text") << ReceivedEvents{t, a, b} << ReceivedEvents{t, a, ReceivedEvent{"3-0", "message", "World"}} << false << 0 << 0
                                    << 1 << QByteArrayList{"3-0"};
    QTest::newRow("all three") << ReceivedEvents{t, a, ReceivedEvent{"3-0", "message", "World"}} << ReceivedEvents{a, b, d} << false << 1 << 1
                               << 1 << QByteArrayList{"1-0", "4-0", "3-0"}; // missing, extra, different
    QTest::newRow("empty") << ReceivedEvents{} << ReceivedEvents{} << true << 0 << 0 << 0 << QByteArrayList{};
}

void TestSseParser::compare()
{
    QFETCH(ReceivedEvents, replay);
    QFETCH(ReceivedEvents, received);
    QFETCH(bool, ok);
    QFETCH(int, missing);
    QFETCH(int, extra);
    QFETCH(int, mismatched);
    QFETCH(QByteArrayList, differingIds);
    const VerifyResult r = StreamVerifier::compare(replay, received);
    QCOMPARE(r.ok, ok);
    QCOMPARE(r.missing, missing);
    QCOMPARE(r.extra, extra);
    QCOMPARE(r.mismatched, mismatched);
    QCOMPARE(r.differingIds, differingIds);
    QVERIFY(!r.summary.isEmpty());
}

QTEST_GUILESS_MAIN(TestSseParser)
#include "tst_sseparser.moc"
