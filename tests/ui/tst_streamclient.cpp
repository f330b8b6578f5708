// StreamClient against the REAL backend (in-process, port 0) on a REAL redis-server:
// resume after forced disconnects, duplicates dropped, chaos, verify, cancel, errors,
// follow-up turns (POST /api/agent/{id}/messages).
#include "Backend.h"
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"
#include "StreamClient.h"

#include <QRegularExpression>
#include <QLoggingCategory>
#include <QSignalSpy>
#include <QTest>

namespace {
constexpr int kTimeout = 60000; // generous: a loaded 2-core machine runs several suites at once

// Drops the client's connection after the 3rd chunk of each connection, up to maxDrops times,
// from inside the signal (the client must cope with being aborted in the middle of a read).
class Dropper : public QObject
{
public:
    Dropper(StreamClient *client, int maxDrops)
    {
        connect(client, &StreamClient::stateChanged, this, [this](StreamClient::State s) {
            if (s == StreamClient::State::Connecting)
                m_sinceConnect = 0;
        });
        connect(client, &StreamClient::messageReceived, this, [this, client, maxDrops] {
            if (++m_sinceConnect >= 3 && drops < maxDrops) {
                ++drops;
                client->disconnect();
            }
        });
    }
    int drops = 0;

private:
    int m_sinceConnect = 0;
};
} // namespace

class TestStreamClient : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void streamsOneRunToTheEnd();
    void twentyForcedDisconnectsLoseNothing();
    void manualDisconnectThenResume();
    void chaosModeLosesNothing();
    void attachReplaysAnExistingConversation();
    void cancelEndsWithCancelled();
    void unknownConversationFailsWithoutRetrying();
    void unreachableServerRetriesThenGivesUp();
    void followUpStreamsTheNextTurn();
    void followUpSurvivesDisconnects();
    void followUpWhileATurnRunsFailsThenRetries();

private:
    QUrl baseUrl() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_backend->port())); }
    void configure(StreamClient &client) const;
    // The whole stream as a fresh client would see it: the reference for "nothing lost".
    QList<HttpClient::Event> fullReplay(const QByteArray &id) const;
    static QString messageText(const QList<HttpClient::Event> &events);
    // What differs between the client's view and a fresh full replay (raw HTTP, then the
    // client's own verify()): empty when they match event for event with no duplicates.
    QString mismatchWithReplay(StreamClient &client) const;
    // Starts a conversation and waits for its first turn to end.
    bool finishFirstTurn(StreamClient &client, const QString &prompt);

    RedisServer m_redis;
    Backend *m_backend = nullptr;
};

void TestStreamClient::initTestCase()
{
    // Warnings stay visible; the per-connection chatter of 20+ reconnects per test does not.
    QLoggingCategory::setFilterRules(QStringLiteral("agentstreams.*.debug=false\nagentstreams.*.info=false"));
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    Config config;
    config.demoPaceMs = 5;
    QString error;
    m_backend = startTestBackend(config, m_redis.connectionString(), {}, &error).release();
    QVERIFY2(m_backend, qPrintable(error));
    QVERIFY(m_backend->port() != 0);
}

void TestStreamClient::cleanupTestCase()
{
    if (m_backend)
        m_backend->stop();
    delete m_backend;
    m_backend = nullptr;
}

void TestStreamClient::configure(StreamClient &client) const
{
    client.setEndpoint(ApiEndpoint(baseUrl()));
    client.setReconnectDelays(10, 200);
}

QList<HttpClient::Event> TestStreamClient::fullReplay(const QByteArray &id) const
{
    HttpClient c;
    c.request(m_backend->port(), "GET", "/api/agent/stream/" + QUrl::toPercentEncoding(QString::fromUtf8(id)), {{"Accept", "text/event-stream"}});
    if (!QTest::qWaitFor([&] { return c.isFinished(); }, kTimeout))
        qWarning("full replay did not finish");
    return c.events();
}

QString TestStreamClient::messageText(const QList<HttpClient::Event> &events)
{
    QByteArray out;
    for (const HttpClient::Event &e : events)
        if (e.event == "message")
            out += e.data;
    return QString::fromUtf8(out);
}

bool TestStreamClient::finishFirstTurn(StreamClient &client, const QString &prompt)
{
    QSignalSpy finished(&client, &StreamClient::finished);
    client.start(prompt);
    if (!QTest::qWaitFor([&] { return finished.count() == 1 || client.state() == StreamClient::State::Failed; }, kTimeout))
        return false;
    return client.state() == StreamClient::State::Finished && client.canFollowUp();
}

void TestStreamClient::streamsOneRunToTheEnd()
{
    StreamClient client;
    configure(client);
    QSignalSpy started(&client, &StreamClient::conversationStarted);
    QSignalSpy turns(&client, &StreamClient::turnStarted);
    QSignalSpy messages(&client, &StreamClient::messageReceived);
    QSignalSpy finished(&client, &StreamClient::finished);
    QList<StreamClient::State> states;
    connect(&client, &StreamClient::stateChanged, this, [&states](StreamClient::State s) { states << s; });

    client.start(QStringLiteral("Plan 2 days in Porto"));
    QVERIFY(finished.wait(kTimeout) || finished.count() == 1);
    QCOMPARE(client.state(), StreamClient::State::Finished);
    QCOMPARE(started.count(), 1);
    const QByteArray id = started.first().first().toByteArray();
    QVERIFY2(QRegularExpression(QStringLiteral("^@dafx-travelplanner@[0-9a-f]{32}$")).match(QString::fromUtf8(id)).hasMatch(), id.constData());
    QCOMPARE(client.conversationId(), id);
    QCOMPARE(turns.count(), 1);
    QCOMPARE(turns.first().at(1).toString(), QStringLiteral("Plan 2 days in Porto"));
    QCOMPARE(client.turns().size(), 1);
    QVERIFY(messages.count() > 20);
    QVERIFY(states.contains(StreamClient::State::Connecting));
    QVERIFY(states.contains(StreamClient::State::Connected));
    QVERIFY(states.contains(StreamClient::State::Streaming));

    const auto replay = fullReplay(id);
    QCOMPARE(client.text(), messageText(replay));
    QCOMPARE(client.lastEventId(), replay.last().id);
    QCOMPARE(client.stats().events, int(replay.size()));
    QCOMPARE(client.stats().duplicates, 0);
    QCOMPARE(client.stats().reconnects, 0);
}

void TestStreamClient::twentyForcedDisconnectsLoseNothing()
{
    StreamClient client;
    configure(client);
    QSignalSpy finished(&client, &StreamClient::finished);
    Dropper dropper(&client, 20);
    const int &drops = dropper.drops;
    client.start(QStringLiteral("Plan 5 days in Kyoto with temples and food"));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1 || client.state() == StreamClient::State::Failed, kTimeout);
    QCOMPARE(client.state(), StreamClient::State::Finished);
    QCOMPARE(drops, 20);
    QVERIFY(client.stats().reconnects >= 20);

    const auto replay = fullReplay(client.conversationId());
    QCOMPARE(client.text(), messageText(replay));
    QCOMPARE(client.stats().events, int(replay.size()));
    QCOMPARE(client.stats().duplicates, 0); // resuming strictly after the cursor re-sends nothing

    QSignalSpy verified(&client, &StreamClient::verifyFinished);
    client.verify();
    QVERIFY(verified.wait(kTimeout) || verified.count() == 1);
    const auto result = verified.first().first().value<VerifyResult>();
    QVERIFY2(result.ok, qPrintable(result.summary));
    QCOMPARE(result.missing, 0);
    QCOMPARE(client.stats().gaps, 0);

    // Resume from an older cursor: the server re-sends everything after it; the client drops
    // each of those events as a duplicate and reports how many.
    const QByteArray older = client.received().at(5).id;
    const int expectedDuplicates = int(client.received().size()) - 6;
    const QString textBefore = client.text();
    client.resumeFrom(older);
    QTRY_COMPARE_WITH_TIMEOUT(client.stats().duplicates, expectedDuplicates, kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(client.state(), StreamClient::State::Finished, kTimeout);
    QCOMPARE(client.text(), textBefore);
    QCOMPARE(client.stats().events, int(replay.size()));
}

void TestStreamClient::manualDisconnectThenResume()
{
    StreamClient client;
    configure(client);
    client.setAutoReconnect(false);
    QSignalSpy finished(&client, &StreamClient::finished);
    connect(&client, &StreamClient::messageReceived, this, [&client] {
        if (client.stats().messages == 5)
            client.disconnect(); // from inside the signal: deterministic under load
    });
    client.start(QStringLiteral("Plan 3 days in Lisbon"));
    QTRY_VERIFY_WITH_TIMEOUT(client.stats().messages >= 5, kTimeout);
    QCOMPARE(client.state(), StreamClient::State::Disconnected);
    QVERIFY(!client.isConnected());
    const int seen = client.stats().messages;

    // The run goes on without us: wait for it to complete on the server, then catch up.
    const auto replay = fullReplay(client.conversationId());
    QCOMPARE(replay.last().event, QByteArray("done"));
    QCOMPARE(client.state(), StreamClient::State::Disconnected); // no auto-reconnect
    QCOMPARE(client.stats().messages, seen);

    client.resume();
    QVERIFY(finished.wait(kTimeout) || finished.count() == 1);
    QCOMPARE(client.text(), messageText(replay));
    QCOMPARE(client.stats().reconnects, 1);
    QCOMPARE(client.stats().duplicates, 0);
}

void TestStreamClient::chaosModeLosesNothing()
{
    StreamClient client;
    configure(client);
    client.setChaos(true);
    client.setChaosIntervalMs(20, 120);
    QSignalSpy finished(&client, &StreamClient::finished);
    QSignalSpy verified(&client, &StreamClient::verifyFinished);
    bool verifiedMidStream = false;
    connect(&client, &StreamClient::messageReceived, this, [&] {
        if (!verifiedMidStream && client.stats().messages == 40) {
            verifiedMidStream = true;
            client.verify(); // up to the current cursor, while the run goes on
        }
    });
    client.start(QStringLiteral("Plan 7 days in Iceland around the ring road"));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1 || client.state() == StreamClient::State::Failed, kTimeout);
    QCOMPARE(client.state(), StreamClient::State::Finished);
    QVERIFY(client.stats().chaosDrops > 0);
    QTRY_VERIFY_WITH_TIMEOUT(verified.count() == 1, kTimeout);
    const auto mid = verified.first().first().value<VerifyResult>();
    QVERIFY2(mid.ok, qPrintable(mid.summary));
    QVERIFY(mid.compared >= 40);

    const auto replay = fullReplay(client.conversationId());
    QCOMPARE(client.text(), messageText(replay));
    client.verify();
    QTRY_VERIFY_WITH_TIMEOUT(verified.count() == 2, kTimeout);
    const auto end = verified.last().first().value<VerifyResult>();
    QVERIFY2(end.ok, qPrintable(end.summary));
    QCOMPARE(end.compared, int(replay.size()));
    QCOMPARE(client.stats().gaps, 0);
    qInfo("chaos: %d drops, %d reconnects, %d events", client.stats().chaosDrops, client.stats().reconnects, client.stats().events);
}

void TestStreamClient::attachReplaysAnExistingConversation()
{
    StreamClient first;
    configure(first);
    QSignalSpy finished(&first, &StreamClient::finished);
    first.start(QStringLiteral("Plan 2 days in Rome"));
    QVERIFY(finished.wait(kTimeout) || finished.count() == 1);

    StreamClient second;
    configure(second);
    QSignalSpy finished2(&second, &StreamClient::finished);
    second.attach(first.conversationId());
    QVERIFY(finished2.wait(kTimeout) || finished2.count() == 1);
    QCOMPARE(second.text(), first.text());
    QCOMPARE(second.turns().size(), 1);
    QCOMPARE(second.turns().first().prompt, QStringLiteral("Plan 2 days in Rome"));
    QCOMPARE(second.lastEventId(), first.lastEventId());
}

void TestStreamClient::cancelEndsWithCancelled()
{
    StreamClient client;
    configure(client);
    QSignalSpy failed(&client, &StreamClient::failed);
    QSignalSpy cancelled(&client, &StreamClient::cancelRequested);
    client.start(QStringLiteral("Plan 10 days in Peru"));
    client.cancel(); // before the id is known: sent as soon as it is
    QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1 || client.state() == StreamClient::State::Finished, kTimeout);
    QCOMPARE(client.state(), StreamClient::State::Failed);
    QCOMPARE(failed.first().first().toString(), QStringLiteral("cancelled"));
    QCOMPARE(client.errorCode(), QStringLiteral("cancelled"));
    QCOMPARE(client.stateText(), QStringLiteral("Cancelled"));
    QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, kTimeout);
    QVERIFY(cancelled.first().first().toBool());
}

void TestStreamClient::unknownConversationFailsWithoutRetrying()
{
    StreamClient client;
    configure(client);
    QSignalSpy failed(&client, &StreamClient::failed);
    client.attach("@dafx-travelplanner@0123456789abcdef0123456789abcdef");
    QVERIFY(failed.wait(kTimeout) || failed.count() == 1);
    QCOMPARE(client.state(), StreamClient::State::Failed);
    QVERIFY2(client.errorMessage().contains(QStringLiteral("404")), qPrintable(client.errorMessage()));
    QCOMPARE(client.stats().reconnects, 0);
}

void TestStreamClient::unreachableServerRetriesThenGivesUp()
{
    StreamClient client;
    client.setEndpoint(ApiEndpoint(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(RedisServer::freePort()))));
    client.setReconnectDelays(5, 20);
    client.setMaxReconnectAttempts(3);
    QSignalSpy failed(&client, &StreamClient::failed);
    QList<StreamClient::State> states;
    connect(&client, &StreamClient::stateChanged, this, [&states](StreamClient::State s) { states << s; });
    client.attach("@dafx-travelplanner@0123456789abcdef0123456789abcdef");
    QVERIFY(failed.wait(kTimeout) || failed.count() == 1);
    QCOMPARE(failed.first().first().toString(), QStringLiteral("unreachable"));
    QCOMPARE(states.count(StreamClient::State::Reconnecting), 3);
    QCOMPARE(client.stats().reconnects, 3);
}

void TestStreamClient::followUpStreamsTheNextTurn()
{
    StreamClient client;
    configure(client);
    QVERIFY(!client.canFollowUp()); // no conversation yet
    QVERIFY(!client.followUp(QStringLiteral("too early")));
    QVERIFY(finishFirstTurn(client, QStringLiteral("Plan 2 days in Porto")));
    const QByteArray id = client.conversationId();
    const QString turn1 = client.text();
    const QByteArray cursor1 = client.lastEventId();
    const int events1 = client.stats().events;

    QSignalSpy started(&client, &StreamClient::conversationStarted);
    QSignalSpy turns(&client, &StreamClient::turnStarted);
    QSignalSpy finished(&client, &StreamClient::finished);
    QVERIFY(client.followUp(QStringLiteral("Add a day trip to Braga")));
    QVERIFY(!client.canFollowUp()); // until this turn ends
    QVERIFY(!client.isTerminal());
    QVERIFY(finished.wait(kTimeout) || finished.count() == 1);
    QCOMPARE(client.state(), StreamClient::State::Finished);
    QVERIFY(client.canFollowUp());
    QCOMPARE(started.count(), 0); // the same conversation
    QCOMPARE(client.conversationId(), id);
    QCOMPARE(turns.count(), 1);
    QCOMPARE(turns.first().at(0).toInt(), 2);
    QCOMPARE(turns.first().at(1).toString(), QStringLiteral("Add a day trip to Braga"));
    QCOMPARE(client.turns().size(), 2);
    QCOMPARE(client.turns().at(0).text, turn1);
    QCOMPARE(client.turns().at(1).number, 2);
    QVERIFY(client.turns().at(1).text.contains(QStringLiteral("Braga")));
    QCOMPARE(client.text(), turn1 + client.turns().at(1).text);
    QVERIFY(client.lastEventId() != cursor1);
    QVERIFY(client.stats().events > events1);

    // Both turns, as a fresh client sees them: over raw HTTP, with verify(), and with attach().
    const QString mismatch = mismatchWithReplay(client);
    QVERIFY2(mismatch.isEmpty(), qPrintable(mismatch));
    QCOMPARE(client.lastEventId(), fullReplay(id).last().id);

    StreamClient second;
    configure(second);
    second.attach(id);
    // A replay of two turns passes turn 1's done event: it ends with the connection.
    QTRY_VERIFY_WITH_TIMEOUT(second.isTerminal() && !second.isConnected(), kTimeout);
    QCOMPARE(second.state(), StreamClient::State::Finished);
    QCOMPARE(second.turns().size(), 2);
    QCOMPARE(second.turns().at(1).prompt, QStringLiteral("Add a day trip to Braga"));
    QCOMPARE(second.text(), client.text());
    QCOMPARE(second.lastEventId(), client.lastEventId());
    QVERIFY(second.canFollowUp());
}

QString TestStreamClient::mismatchWithReplay(StreamClient &client) const
{
    const auto replay = fullReplay(client.conversationId());
    if (client.text() != messageText(replay))
        return QStringLiteral("the text differs from a full replay");
    if (client.stats().events != int(replay.size()))
        return QStringLiteral("%1 events, a full replay has %2").arg(client.stats().events).arg(replay.size());
    if (client.stats().duplicates != 0)
        return QStringLiteral("%1 duplicates").arg(client.stats().duplicates);
    QSignalSpy verified(&client, &StreamClient::verifyFinished);
    client.verify();
    if (!verified.wait(kTimeout) && verified.isEmpty())
        return QStringLiteral("verify() did not finish");
    const auto result = verified.first().first().value<VerifyResult>();
    if (!result.ok || result.compared != int(replay.size()))
        return QStringLiteral("verify(): %1 (%2 events compared)").arg(result.summary).arg(result.compared);
    return {};
}

void TestStreamClient::followUpSurvivesDisconnects()
{
    StreamClient client;
    configure(client);
    QVERIFY(finishFirstTurn(client, QStringLiteral("Plan 3 days in Lisbon")));
    const int reconnectsBefore = client.stats().reconnects;
    QSignalSpy finished(&client, &StreamClient::finished);
    // Every connection of turn 2 is dropped after its 3rd chunk, the follow-up's POST first.
    Dropper dropper(&client, 8);
    const int &drops = dropper.drops;
    QVERIFY(client.followUp(QStringLiteral("Add a day in Sintra and one in Cascais")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1 || client.state() == StreamClient::State::Failed, kTimeout);
    QCOMPARE(client.state(), StreamClient::State::Finished);
    QCOMPARE(drops, 8);
    QVERIFY(client.stats().reconnects - reconnectsBefore >= 8);
    QCOMPARE(client.turns().size(), 2);

    const QString mismatch = mismatchWithReplay(client); // every chunk of both turns, once
    QVERIFY2(mismatch.isEmpty(), qPrintable(mismatch));
}

void TestStreamClient::followUpWhileATurnRunsFailsThenRetries()
{
    StreamClient first;
    configure(first);
    QVERIFY(finishFirstTurn(first, QStringLiteral("Plan 2 days in Madrid")));
    StreamClient second; // the same conversation in another window
    configure(second);
    second.attach(first.conversationId());
    QTRY_VERIFY_WITH_TIMEOUT(second.canFollowUp() && !second.isConnected(), kTimeout);
    const QString turn1 = second.text();

    // While first's turn 2 runs (its answer is a whole itinerary: seconds at this pace), the
    // second window's follow-up is refused with the server's message; its state stays.
    QSignalSpy failed(&second, &StreamClient::failed);
    connect(&first, &StreamClient::turnStarted, this, [&](int turn) {
        if (turn == 2)
            QVERIFY(second.followUp(QStringLiteral("Add a day in Toledo")));
    });
    QSignalSpy finished(&first, &StreamClient::finished);
    QVERIFY(first.followUp(QStringLiteral("Add a day in Segovia")));
    QVERIFY(failed.wait(kTimeout) || failed.count() == 1);
    QCOMPARE(failed.first().at(0).toString(), QStringLiteral("http_409")); // an SSE request gets a text error body
    const QString message = failed.first().at(1).toString();
    QVERIFY2(message.contains(QStringLiteral("409")) && message.contains(QStringLiteral("still running")), qPrintable(message));
    QCOMPARE(second.state(), StreamClient::State::Failed);
    QCOMPARE(second.errorMessage(), message);
    QCOMPARE(second.text(), turn1);
    QCOMPARE(second.turns().size(), 1);
    QCOMPARE(second.conversationId(), first.conversationId());
    QVERIFY(second.canFollowUp()); // can be sent again later

    QVERIFY(finished.wait(kTimeout) || finished.count() == 1);
    QCOMPARE(first.state(), StreamClient::State::Finished);
    // The retry becomes turn 3; its POST streams turn 3 only, so the client reads what it
    // missed (first's turn 2) from its cursor on.
    QSignalSpy finished2(&second, &StreamClient::finished);
    QVERIFY(second.followUp(QStringLiteral("Add a day in Toledo")));
    QTRY_VERIFY_WITH_TIMEOUT(finished2.count() == 2 || second.state() == StreamClient::State::Failed, kTimeout);
    QCOMPARE(second.state(), StreamClient::State::Finished); // one finished() per turn: 2, then 3
    QCOMPARE(second.turns().size(), 3);
    QCOMPARE(second.turns().at(1).prompt, QStringLiteral("Add a day in Segovia"));
    QCOMPARE(second.turns().at(2).prompt, QStringLiteral("Add a day in Toledo"));
    const auto replay = fullReplay(second.conversationId());
    QCOMPARE(second.text(), messageText(replay));
    QCOMPARE(second.stats().events, int(replay.size()));
    QCOMPARE(second.stats().duplicates, 0);
}

QTEST_GUILESS_MAIN(TestStreamClient)
#include "tst_streamclient.moc"
