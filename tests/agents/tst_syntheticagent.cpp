// SyntheticAgent: exact chunk count, size and header; rate scheduled against the start.
#include "agents/PaceScheduler.h"
#include "agents/SyntheticAgent.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

namespace {
AgentRequest request(const QJsonObject &options)
{
    AgentRequest r;
    r.conversationId = "@dafx-travelplanner@00000000000000000000000000000000";
    r.prompt = QStringLiteral("bench");
    r.options = options;
    r.options.insert(QStringLiteral("provider"), QStringLiteral("synthetic"));
    return r;
}

struct Header
{
    qint64 k = -1;
    qint64 dueUs = -1;
};
Header parseHeader(const QString &chunk)
{
    static const QRegularExpression re(QStringLiteral("^(\\d+) (\\d+) x*\\n$"));
    const auto m = re.match(chunk);
    if (!m.hasMatch())
        return {};
    return Header{m.captured(1).toLongLong(), m.captured(2).toLongLong()};
}
qint64 nowUs()
{
    return QDateTime::currentMSecsSinceEpoch() * 1000;
}
} // namespace

class TestSyntheticAgent : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void invalidOptions_data();
    void invalidOptions();
    void chunkFormat();
    void countAndSizes_data();
    void countAndSizes();
    void asFastAsPossibleYieldsToTheEventLoop();
    void rateIsScheduledFromTheStart();
    void cancelStops();
    void paceSchedulerRunsSameGridPointInOneFiringNeverEarly();
};

void TestSyntheticAgent::invalidOptions_data()
{
    QTest::addColumn<QJsonObject>("options");
    QTest::addColumn<QString>("mention");
    QTest::newRow("zero chunks") << QJsonObject{{"chunks", 0}} << "\"chunks\"";
    QTest::newRow("too many chunks") << QJsonObject{{"chunks", 10000001}} << "\"chunks\"";
    QTest::newRow("fractional chunks") << QJsonObject{{"chunks", 1.5}} << "\"chunks\"";
    QTest::newRow("string chunks") << QJsonObject{{"chunks", "10"}} << "\"chunks\"";
    QTest::newRow("bytes too small") << QJsonObject{{"bytes", 31}} << "\"bytes\"";
    QTest::newRow("bytes too large") << QJsonObject{{"bytes", 1024 * 1024 + 1}} << "\"bytes\"";
    QTest::newRow("negative rate") << QJsonObject{{"rate", -1}} << "\"rate\"";
    QTest::newRow("string rate") << QJsonObject{{"rate", "fast"}} << "\"rate\"";
}

void TestSyntheticAgent::invalidOptions()
{
    QFETCH(QJsonObject, options);
    QFETCH(QString, mention);
    SyntheticAgent agent;
    QSignalSpy failed(&agent, &Agent::failed);
    QSignalSpy chunks(&agent, &Agent::chunk);
    agent.start(request(options));
    QVERIFY(failed.wait(5000));
    QCOMPARE(failed.first().at(0).toString(), QStringLiteral("bad_request"));
    QVERIFY2(failed.first().at(1).toString().contains(mention), qPrintable(failed.first().at(1).toString()));
    QCOMPARE(chunks.count(), 0);
}

void TestSyntheticAgent::chunkFormat()
{
    QCOMPARE(SyntheticAgent::makeChunk(0, 1700000000000000, 32), QStringLiteral("0 1700000000000000 xxxxxxxxxxxx\n"));
    QCOMPARE(SyntheticAgent::makeChunk(9999999, 1700000000000000, 32).size(), 32);
    QCOMPARE(SyntheticAgent::makeChunk(9999999, 1700000000000000, 32), QStringLiteral("9999999 1700000000000000 xxxxxx\n"));
    QCOMPARE(SyntheticAgent::makeChunk(3, 5, 1024 * 1024).size(), 1024 * 1024);
}

void TestSyntheticAgent::countAndSizes_data()
{
    QTest::addColumn<int>("count");
    QTest::addColumn<int>("bytes");
    QTest::newRow("defaults") << -1 << -1;
    QTest::newRow("one minimal") << 1 << 32;
    QTest::newRow("1000 x 64") << 1000 << 64;
    QTest::newRow("600 x 300 (bursts of 256)") << 600 << 300;
    QTest::newRow("3 x 1 MiB") << 3 << 1024 * 1024;
}

void TestSyntheticAgent::countAndSizes()
{
    QFETCH(int, count);
    QFETCH(int, bytes);
    QJsonObject options;
    if (count > 0)
        options.insert(QStringLiteral("chunks"), count);
    if (bytes > 0)
        options.insert(QStringLiteral("bytes"), bytes);
    const int expectedCount = count > 0 ? count : 100;
    const int expectedBytes = bytes > 0 ? bytes : 64;

    SyntheticAgent agent;
    QList<QString> chunks;
    connect(&agent, &Agent::chunk, this, [&chunks](const QString &t) { chunks << t; });
    QSignalSpy finished(&agent, &Agent::finished);
    QSignalSpy failed(&agent, &Agent::failed);
    const qint64 before = nowUs();
    agent.start(request(options));
    QVERIFY(finished.wait(20000));
    const qint64 after = nowUs();
    QCOMPARE(failed.count(), 0);
    QCOMPARE(chunks.size(), expectedCount);
    qint64 lastDue = 0;
    for (int k = 0; k < chunks.size(); ++k) {
        const QString &c = chunks.at(k);
        QCOMPARE(c.toUtf8().size(), expectedBytes);
        const Header h = parseHeader(c);
        QCOMPARE(h.k, qint64(k));
        QVERIFY2(h.dueUs >= before - 1000 && h.dueUs <= after + 1000, qPrintable(c.left(40)));
        QVERIFY(h.dueUs >= lastDue);
        lastDue = h.dueUs;
    }
    QVERIFY(!finished.wait(50) && finished.count() == 1); // exactly one terminal signal
}

void TestSyntheticAgent::asFastAsPossibleYieldsToTheEventLoop()
{
    SyntheticAgent agent;
    int seen = 0;
    int seenWhenTimerFired = -1;
    connect(&agent, &Agent::chunk, this, [&seen] { ++seen; });
    QSignalSpy finished(&agent, &Agent::finished);
    agent.start(request({{"chunks", 5000}, {"bytes", 32}, {"rate", 0}}));
    QTimer::singleShot(0, this, [&] { seenWhenTimerFired = seen; });
    QVERIFY(finished.wait(20000));
    QCOMPARE(seen, 5000);
    QVERIFY(seenWhenTimerFired >= 0);
    QVERIFY2(seenWhenTimerFired <= 2 * SyntheticAgent::kBurst, qPrintable(QString::number(seenWhenTimerFired)));
}

void TestSyntheticAgent::rateIsScheduledFromTheStart()
{
    // 30 chunks at 100/s: chunk k is due 10 ms * k after the start, exactly, and never early.
    const int count = 30;
    SyntheticAgent agent;
    QList<Header> headers;
    QList<qint64> emittedUs;
    connect(&agent, &Agent::chunk, this, [&](const QString &t) {
        headers << parseHeader(t);
        emittedUs << nowUs();
    });
    QSignalSpy finished(&agent, &Agent::finished);
    QElapsedTimer clock;
    clock.start();
    agent.start(request({{"chunks", count}, {"bytes", 40}, {"rate", 100}}));
    QVERIFY(finished.wait(20000));
    const qint64 elapsedMs = clock.elapsed();
    QCOMPARE(headers.size(), count);
    for (int k = 0; k < count; ++k) {
        QCOMPARE(headers.at(k).k, qint64(k));
        QCOMPARE(headers.at(k).dueUs - headers.at(0).dueUs, qint64(k) * 10000);
        QVERIFY2(emittedUs.at(k) + 1000 >= headers.at(k).dueUs, "emitted before it was due"); // ms clock: 1 ms slack
    }
    // Nominal 290 ms; no bound tighter than 2x.
    QVERIFY2(elapsedMs >= 290 / 2 && elapsedMs <= 290 * 2 + 500, qPrintable(QString::number(elapsedMs)));
}

void TestSyntheticAgent::cancelStops()
{
    SyntheticAgent agent;
    QSignalSpy chunks(&agent, &Agent::chunk);
    QSignalSpy finished(&agent, &Agent::finished);
    QSignalSpy failed(&agent, &Agent::failed);
    agent.start(request({{"chunks", 1000}, {"bytes", 32}, {"rate", 200}}));
    QTRY_VERIFY_WITH_TIMEOUT(chunks.count() >= 3, 10000);
    agent.cancel();
    const int seen = chunks.count();
    QVERIFY(!chunks.wait(100));
    QCOMPARE(chunks.count(), seen);
    QCOMPARE(finished.count() + failed.count(), 0);
}

void TestSyntheticAgent::paceSchedulerRunsSameGridPointInOneFiringNeverEarly()
{
    // Items due at the same grid point run in one firing (the same `now`), in scheduling order,
    // none before its due time; a cancelled one never runs; one already due runs at once.
    QObject parent;
    PaceScheduler *pace = PaceScheduler::of(&parent);
    QCOMPARE(PaceScheduler::of(&parent), pace);
    struct Seen
    {
        QList<int> order;
        QList<qint64> nows;
    } seen;
    struct Item
    {
        Seen *seen;
        int index;
    };
    const qint64 due = PaceScheduler::onGrid(pace->nowNs() + 20'000'000);
    QCOMPARE(due % PaceScheduler::kGridNs, 0);
    std::vector<Item> items;
    for (int i = 0; i < 4; ++i)
        items.push_back({&seen, i});
    auto record = [](void *context, qint64 now) {
        auto *item = static_cast<Item *>(context);
        item->seen->order << item->index;
        item->seen->nows << now;
    };
    pace->schedule(due, record, &items[0]);
    pace->schedule(due, record, &items[1]);
    const quint64 cancelled = pace->schedule(due, record, &items[2]);
    pace->schedule(due + PaceScheduler::kGridNs, record, &items[3]);
    pace->cancel(cancelled);
    QTRY_COMPARE_WITH_TIMEOUT(seen.order.size(), 3, 5000);
    QCOMPARE(seen.order, (QList<int>{0, 1, 3}));
    QCOMPARE(seen.nows.at(0), seen.nows.at(1)); // one firing
    QVERIFY(seen.nows.at(0) >= due);
    QVERIFY(seen.nows.at(2) >= due + PaceScheduler::kGridNs);
    // Already due: runs on the next event-loop turn.
    Item late{&seen, 9};
    pace->schedule(pace->nowNs() - 1'000'000, record, &late);
    QTRY_COMPARE_WITH_TIMEOUT(seen.order.size(), 4, 5000);
    QCOMPARE(seen.order.last(), 9);
}

QTEST_GUILESS_MAIN(TestSyntheticAgent)
#include "tst_syntheticagent.moc"
