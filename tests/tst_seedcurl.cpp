// The sample's curl commands (seed-README sections 1-3), run verbatim with the real curl
// against the real executable in --headless mode on port 7071.
#include "HttpClient.h"
#include "RedisServer.h"
#include "agents/Itinerary.h"

#include <QProcess>
#include <QRegularExpression>
#include <QTest>

#include <csignal>

namespace {
const char kSection1[] = R"(curl -i -N -X POST http://localhost:7071/api/agent/create \
  -H "Content-Type: text/plain" \
  -H "Accept: text/plain" \
  -d "Plan a 7-day trip to Tokyo, Japan for next month. Include daily activities, restaurant recommendations, and tips for getting around.")";

const char kResume[] = R"(
curl -N -H "Accept: text/plain" "http://localhost:7071/api/agent/stream/${CONVERSATION_ID}")";

const char kCursor[] = R"(
curl -N "http://localhost:7071/api/agent/stream/${CONVERSATION_ID}?cursor=%1")";

const char kSection3[] = R"(curl -i -N -X POST http://localhost:7071/api/agent/create \
  -H "Content-Type: text/plain" \
  -H "Accept: text/event-stream" \
  -d "Plan a 7-day trip to Tokyo, Japan.")";

QByteArray runBash(const QString &script, int timeoutMs = 60000)
{
    QProcess p;
    p.start(QStringLiteral("bash"), {QStringLiteral("-c"), script});
    p.waitForFinished(timeoutMs);
    return p.readAllStandardOutput();
}
} // namespace

class TestSeedCurl : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void section1_plainText();
    void section2_interruptAndResume();
    void section3_sse();

private:
    RedisServer m_redis;
    QProcess m_app;
    QByteArray m_appLog;
};

void TestSeedCurl::initTestCase()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    const QString bin = qEnvironmentVariable("AGENT_STREAMS_BIN");
    QVERIFY2(!bin.isEmpty(), "AGENT_STREAMS_BIN must point at build/bin/agent-streams (ctest sets it)");
    m_app.setProcessChannelMode(QProcess::MergedChannels);
    QStringList args{QStringLiteral("--headless"), QStringLiteral("--port"), QStringLiteral("7071"), QStringLiteral("--redis"),
                     m_redis.connectionString(), QStringLiteral("--demo-pace-ms"), QStringLiteral("15")};
    if (!RedisServer::testCaFile().isEmpty()) // the same commands with the app on a TLS Redis
        args << QStringLiteral("--redis-ca") << RedisServer::testCaFile();
    m_app.start(bin, args);
    QVERIFY(m_app.waitForStarted(10000));
    const bool up = QTest::qWaitFor([&] {
        m_appLog += m_app.readAll();
        return m_appLog.contains("ready: every Redis connection is up") || m_app.state() != QProcess::Running;
    }, 20000);
    QVERIFY2(up && m_app.state() == QProcess::Running,
             qPrintable(QStringLiteral("agent-streams did not start on port 7071 (is the port taken?): ") + QString::fromUtf8(m_appLog)));
}

void TestSeedCurl::cleanupTestCase()
{
    m_app.terminate();
    m_app.waitForFinished(10000);
}

void TestSeedCurl::section1_plainText()
{
    const QByteArray out = runBash(QString::fromUtf8(kSection1));
    QVERIFY2(out.startsWith("HTTP/1.1 200 OK\r\n"), out.left(200).constData());
    QVERIFY(out.contains("Content-Type: text/plain; charset=utf-8\r\n"));
    QVERIFY(out.contains("Cache-Control: no-cache\r\n"));
    QVERIFY(QRegularExpression(QStringLiteral("x-conversation-id: @dafx-travelplanner@[0-9a-f]{32}\r\n")).match(QString::fromUtf8(out)).hasMatch());
    const QByteArray body = out.mid(out.indexOf("\r\n\r\n") + 4);
    const QString prompt = QStringLiteral("Plan a 7-day trip to Tokyo, Japan for next month. Include daily activities, restaurant "
                                          "recommendations, and tips for getting around.");
    QCOMPARE(body, Itinerary::write(prompt).toUtf8());
    QVERIFY(body.contains("## Day 7"));
}

void TestSeedCurl::section2_interruptAndResume()
{
    // Step 1-2: start the stream, note the id, press Ctrl+C while it is still going.
    QProcess curl;
    curl.start(QStringLiteral("bash"), {QStringLiteral("-c"), QStringLiteral("exec ") + QString::fromUtf8(kSection1)});
    QVERIFY(curl.waitForStarted());
    QByteArray seen;
    QVERIFY(QTest::qWaitFor([&] {
        seen += curl.readAllStandardOutput();
        return seen.contains("## Day 1");
    }, 20000));
    ::kill(pid_t(curl.processId()), SIGINT);
    QVERIFY(curl.waitForFinished(10000));
    seen += curl.readAllStandardOutput();
    QVERIFY2(!seen.contains("Have a wonderful trip"), "the stream should have been interrupted mid-way");
    const auto m = QRegularExpression(QStringLiteral("x-conversation-id: (\\S+)\r\n")).match(QString::fromUtf8(seen));
    QVERIFY(m.hasMatch());
    const QString id = m.captured(1);

    // Step 3: resume; the whole answer is replayed from the beginning (the agent went on).
    const QString setId = QStringLiteral("CONVERSATION_ID=\"%1\"\n").arg(id);
    const QByteArray replayed = runBash(setId + QString::fromUtf8(kResume));
    const QString prompt = QStringLiteral("Plan a 7-day trip to Tokyo, Japan for next month. Include daily activities, restaurant "
                                          "recommendations, and tips for getting around.");
    QCOMPARE(replayed, Itinerary::write(prompt).toUtf8());
    const QByteArray firstPart = seen.mid(seen.indexOf("\r\n\r\n") + 4);
    QVERIFY(replayed.startsWith(firstPart));

    // Step 4: resume from a cursor (SSE): only the events after it, ending with done.
    const QByteArray all = runBash(setId + QStringLiteral("curl -s -N \"http://localhost:7071/api/agent/stream/${CONVERSATION_ID}\""));
    const auto events = HttpClient::parseSse(all);
    QVERIFY(events.size() > 20);
    const QByteArray cursor = events.at(10).id;
    const QByteArray after = runBash(setId + QString::fromUtf8(kCursor).arg(QString::fromUtf8(cursor)));
    const auto rest = HttpClient::parseSse(after);
    QCOMPARE(rest.size(), events.size() - 11);
    QCOMPARE(rest.first().id, events.at(11).id);
    QCOMPARE(rest.last().event, QByteArray("done"));
}

void TestSeedCurl::section3_sse()
{
    const QByteArray out = runBash(QString::fromUtf8(kSection3));
    QVERIFY(out.startsWith("HTTP/1.1 200 OK\r\n"));
    QVERIFY(out.contains("Content-Type: text/event-stream\r\n"));
    QVERIFY(out.contains("x-conversation-id: @dafx-travelplanner@"));
    const QByteArray body = out.mid(out.indexOf("\r\n\r\n") + 4);
    QVERIFY(QRegularExpression(QStringLiteral("id: \\d+-\\d+\nevent: message\ndata: ")).match(QString::fromUtf8(body)).hasMatch());
    QVERIFY(QRegularExpression(QStringLiteral("id: \\d+-\\d+\nevent: done\ndata: \\[DONE\\]\n\n$")).match(QString::fromUtf8(body)).hasMatch());
    const auto events = HttpClient::parseSse(body);
    QByteArray text;
    for (const auto &e : events)
        if (e.event == "message")
            text += e.data;
    QCOMPARE(text, Itinerary::write(QStringLiteral("Plan a 7-day trip to Tokyo, Japan.")).toUtf8());
}

QTEST_GUILESS_MAIN(TestSeedCurl)
#include "tst_seedcurl.moc"
