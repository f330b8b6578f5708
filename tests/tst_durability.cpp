// Durable runs: a killed process's runs end with `interrupted`, a Redis restart mid-run loses
// and doubles nothing, conversations keep every turn.
#include "Backend.h"
#include "AppProcess.h"
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"
#include "agents/Agent.h"
#include "agents/DemoAgent.h"
#include "agents/Itinerary.h"
#include "runs/RunManager.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QDateTime>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>

#include <csignal>

namespace {
QJsonObject getJson(quint16 port, const QByteArray &target)
{
    HttpClient c;
    c.request(port, "GET", target);
    if (!QTest::qWaitFor([&] { return c.isFinished() || (c.headersDone() && c.body().endsWith('\n')); }, 10000))
        return {};
    return QJsonDocument::fromJson(c.body()).object();
}

class RecordingAgent : public DemoAgent
{
public:
    RecordingAgent(QList<AgentRequest> *seen, QObject *parent) : DemoAgent(1, parent), m_seen(seen) {}
    void start(const AgentRequest &request) override
    {
        m_seen->append(request);
        DemoAgent::start(request);
    }

private:
    QList<AgentRequest> *m_seen;
};
} // namespace

class TestDurability : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void killedProcessRunEndsInterrupted();
    void leaseEndsRunsWithinLeaseMs();
    void badConnectionStringExits();
    void restartedProcessRecoversItsOwnRuns();
    void gracefulShutdownEndsRuns();
    void redisRestartMidRunLosesNothing();
    void redisOutageLongerThanTheLeaseKeepsLiveRuns();
    void multiTurnConversation();

private:
    RedisServer m_redis;
};

void TestDurability::initTestCase()
{
    QVERIFY2(!qEnvironmentVariable("AGENT_STREAMS_BIN").isEmpty(), "AGENT_STREAMS_BIN must point at build/bin/agent-streams");
    QVERIFY2(m_redis.start(true), qPrintable(m_redis.error()));
}

void TestDurability::killedProcessRunEndsInterrupted()
{
    const QStringList flags{QStringLiteral("--lease-ms"), QStringLiteral("2000"), QStringLiteral("--demo-pace-ms"), QStringLiteral("50")};
    AppProcess a, b;
    QVERIFY2(a.start(m_redis.connectionString(), flags), a.log.constData());
    QVERIFY2(b.start(m_redis.connectionString(), flags), b.log.constData());
    HttpClient create;
    create.request(a.port, "POST", "/api/agent/create", {{"Accept", "application/json"}}, "Plan a 7-day trip to Rome");
    QTRY_VERIFY_WITH_TIMEOUT(create.headersDone(), 10000);
    const QByteArray id = create.header("x-conversation-id");
    QVERIFY(!id.isEmpty());
    // A reader follows the run through the OTHER instance.
    HttpClient follower;
    follower.request(b.port, "GET", "/api/agent/stream/" + id, {{"Accept", "text/event-stream"}});
    QTRY_VERIFY_WITH_TIMEOUT(follower.events().size() >= 5, 20000);
    a.kill9();
    QElapsedTimer sinceKill;
    sinceKill.start();
    QTRY_VERIFY_WITH_TIMEOUT(follower.isFinished(), 20000);
    qInfo("follower ended %lld ms after SIGKILL (lease 2000 ms)", sinceKill.elapsed());
    QVERIFY2(sinceKill.elapsed() < 2000 + 1000 + 3000, "the follower must end within about the lease time");
    const auto last = follower.events().last();
    QCOMPARE(last.event, QByteArray("error"));
    QCOMPARE(QJsonDocument::fromJson(last.data).object().value(QStringLiteral("code")).toString(), QStringLiteral("interrupted"));
    const QJsonObject status = getJson(b.port, "/api/agent/" + id);
    QCOMPARE(status.value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
    QCOMPARE(status.value(QStringLiteral("error_code")).toString(), QStringLiteral("interrupted"));
}

void TestDurability::leaseEndsRunsWithinLeaseMs()
{
    // README promises that a dead instance's runs end within --lease-ms. Three runs, started
    // at different moments (so their heartbeats renew at different phases), on an instance
    // that is then killed: each run record's finished_at, stamped by the sweeping instance,
    // is at most --lease-ms after the kill. (Before, the lease ran the full --lease-ms from
    // the last renewal and sweeps came every half lease: up to 1.5x the promise, 16.3 s of 15.)
    const int leaseMs = 3000;
    const QStringList flags{QStringLiteral("--lease-ms"), QString::number(leaseMs), QStringLiteral("--demo-pace-ms"), QStringLiteral("100")};
    AppProcess a, b;
    QVERIFY2(a.start(m_redis.connectionString(), flags), a.log.constData());
    QVERIFY2(b.start(m_redis.connectionString(), flags), b.log.constData());
    QList<QByteArray> ids;
    std::vector<std::unique_ptr<HttpClient>> streams;
    for (int i = 0; i < 3; ++i) {
        streams.push_back(std::make_unique<HttpClient>());
        HttpClient &create = *streams.back();
        create.request(a.port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}}, "Plan a 7-day trip to Rome");
        // A few chunks (100 ms each) apart: the three leases are renewed at different phases.
        QTRY_VERIFY_WITH_TIMEOUT(create.events().size() >= 4, 10000);
        ids << create.header("x-conversation-id");
    }
    const qint64 killedAt = QDateTime::currentMSecsSinceEpoch();
    a.kill9();
    for (const QByteArray &id : std::as_const(ids)) {
        QTRY_VERIFY_WITH_TIMEOUT(getJson(b.port, "/api/agent/" + id).value(QStringLiteral("status")).toString() == QLatin1String("failed"), 10000);
        const QJsonObject status = getJson(b.port, "/api/agent/" + id);
        QCOMPARE(status.value(QStringLiteral("error_code")).toString(), QStringLiteral("interrupted"));
        const qint64 endedAfter = qint64(status.value(QStringLiteral("finished_at")).toDouble()) - killedAt;
        qInfo("run ended %lld ms after SIGKILL (--lease-ms %d)", endedAfter, leaseMs);
        QVERIFY2(endedAfter <= leaseMs, qPrintable(QStringLiteral("ended %1 ms after the kill").arg(endedAfter)));
    }
}

void TestDurability::badConnectionStringExits()
{
    // A connection string the app refuses is a configuration error: the process exits with a
    // non-zero status and says why, like an unknown flag (before, it printed the error and kept
    // running without listening).
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("REDIS_CONNECTION_STRING"), QStringLiteral("localhost:notaport,password=x"));
    p.setProcessEnvironment(env);
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(qEnvironmentVariable("AGENT_STREAMS_BIN"), {QStringLiteral("--headless"), QStringLiteral("--port"), QString::number(RedisServer::freePort())});
    QVERIFY(p.waitForStarted(10000));
    QTRY_VERIFY_WITH_TIMEOUT(p.state() == QProcess::NotRunning, 10000);
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QVERIFY(p.exitCode() != 0);
    const QByteArray out = p.readAll();
    QVERIFY2(out.contains("REDIS_CONNECTION_STRING"), out.constData());
}

void TestDurability::restartedProcessRecoversItsOwnRuns()
{
    const QStringList flags{QStringLiteral("--lease-ms"), QStringLiteral("1500"), QStringLiteral("--demo-pace-ms"), QStringLiteral("50")};
    QByteArray id;
    {
        AppProcess a;
        QVERIFY2(a.start(m_redis.connectionString(), flags), a.log.constData());
        HttpClient create;
        create.request(a.port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}}, "Plan a 5-day trip to Madrid");
        QTRY_VERIFY_WITH_TIMEOUT(create.events().size() >= 5, 20000);
        id = create.header("x-conversation-id");
        a.kill9();
    }
    AppProcess again; // the app runs again: it finds the dead run and ends it
    QVERIFY2(again.start(m_redis.connectionString(), flags), again.log.constData());
    HttpClient replay;
    replay.request(again.port, "GET", "/api/agent/stream/" + id, {{"Accept", "text/event-stream"}});
    QTRY_VERIFY_WITH_TIMEOUT(replay.isFinished(), 20000);
    QCOMPARE(replay.events().last().event, QByteArray("error"));
    QVERIFY(replay.events().last().data.contains("interrupted"));
    QCOMPARE(getJson(again.port, "/api/agent/" + id).value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
}

void TestDurability::gracefulShutdownEndsRuns()
{
    // A long lease: only the shutdown itself can end the run within the test's wait.
    const QStringList flags{QStringLiteral("--lease-ms"), QStringLiteral("600000"), QStringLiteral("--demo-pace-ms"), QStringLiteral("50")};
    AppProcess a;
    QVERIFY2(a.start(m_redis.connectionString(), flags), a.log.constData());
    HttpClient create;
    create.request(a.port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}}, "Plan a 5-day trip to Sofia");
    QTRY_VERIFY_WITH_TIMEOUT(create.events().size() >= 5, 20000);
    const QByteArray id = create.header("x-conversation-id");
    a.process.terminate(); // SIGTERM, as systemd or Ctrl+C would
    QVERIFY(a.process.waitForFinished(10000));
    QCOMPARE(a.process.exitStatus(), QProcess::NormalExit);
    const QByteArray last = m_redis.cli({QStringLiteral("XREVRANGE"), QString::fromUtf8("agent-stream:{" + id + "}"), QStringLiteral("+"),
                                         QStringLiteral("-"), QStringLiteral("COUNT"), QStringLiteral("1")});
    QVERIFY2(last.contains("error") && last.contains("interrupted") && last.contains("server stopped"), last.constData());
    QCOMPARE(m_redis.cli({QStringLiteral("HGET"), QString::fromUtf8("agent-run:{" + id + "}"), QStringLiteral("status")}), QByteArray("failed"));
}

void TestDurability::redisRestartMidRunLosesNothing()
{
    if (RedisServer::clusterMode())
        QSKIP("restarts a whole Redis server; on a cluster, losing a primary is tst_clusterload's case");
    RedisServer redis;
    QVERIFY(redis.start(true)); // append-only, fsync always
    Config config;
    config.demoPaceMs = 10;
    auto started = startTestBackend(config, redis.connectionString());
    QVERIFY(started);
    Backend &backend = *started;
    const QByteArray prompt = "Plan a 6-day trip to Athens";
    HttpClient follower;
    follower.request(backend.port(), "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, prompt);
    QTRY_VERIFY_WITH_TIMEOUT(follower.events().size() >= 30, 20000);
    redis.kill();
    QSignalSpy availability(&backend, &Backend::redisAvailabilityChanged);
    QTRY_VERIFY_WITH_TIMEOUT(!availability.isEmpty(), 10000);
    QVERIFY(redis.restart());
    QTRY_VERIFY_WITH_TIMEOUT(follower.isFinished(), 60000);
    QCOMPARE(follower.events().last().event, QByteArray("done"));
    const QByteArray expected = Itinerary::write(QString::fromUtf8(prompt)).toUtf8();
    QCOMPARE(follower.messageText(), expected); // the live reader saw everything once
    HttpClient replay;
    replay.request(backend.port(), "GET", "/api/agent/stream/" + follower.header("x-conversation-id"), {{"Accept", "text/event-stream"}});
    QTRY_VERIFY_WITH_TIMEOUT(replay.isFinished(), 20000);
    QCOMPARE(replay.messageText(), expected); // and so does the stored stream
    QCOMPARE(replay.events().size(), follower.events().size());
    const int chunks = DemoAgent::split(Itinerary::write(QString::fromUtf8(prompt))).size();
    QCOMPARE(replay.events().size(), chunks + 2); // turn + every chunk exactly once + done
}

void TestDurability::redisOutageLongerThanTheLeaseKeepsLiveRuns()
{
    // No owner can renew a lease while Redis is away, so an expired lease right after an
    // outage does not mean the owner died: neither the owner's own sweeper nor another
    // instance's may end the run.
    if (RedisServer::clusterMode())
        QSKIP("restarts a whole Redis server; on a cluster, losing a primary is tst_clusterload's case");
    RedisServer redis;
    QVERIFY(redis.start(true));
    Config config;
    config.demoPaceMs = 20;
    config.leaseMs = 1000;
    auto owner = startTestBackend(config, redis.connectionString());
    auto other = startTestBackend(config, redis.connectionString());
    QVERIFY(owner && other);
    // And a third instance that dies during the outage: its run must still be recovered.
    AppProcess doomed;
    QVERIFY2(doomed.start(redis.connectionString(), {QStringLiteral("--lease-ms"), QStringLiteral("1000"), QStringLiteral("--demo-pace-ms"),
                                                     QStringLiteral("50")}),
             doomed.log.constData());
    HttpClient doomedCreate;
    doomedCreate.request(doomed.port, "POST", "/api/agent/create", {{"Accept", "application/json"}}, "Plan a 7-day trip to Rome");
    QTRY_VERIFY_WITH_TIMEOUT(doomedCreate.headersDone(), 10000);
    const QByteArray doomedId = doomedCreate.header("x-conversation-id");
    QVERIFY(!doomedId.isEmpty());
    const QByteArray prompt = "Plan a 6-day trip to Lisbon";
    HttpClient follower;
    follower.request(owner->port(), "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, prompt);
    QTRY_VERIFY_WITH_TIMEOUT(follower.events().size() >= 10, 20000);
    const QByteArray id = follower.header("x-conversation-id");
    QSignalSpy ownerLost(owner.get(), &Backend::redisAvailabilityChanged);
    QSignalSpy otherLost(other.get(), &Backend::redisAvailabilityChanged);
    QElapsedTimer outage;
    outage.start();
    redis.kill();
    QTRY_VERIFY_WITH_TIMEOUT(!ownerLost.isEmpty() && !otherLost.isEmpty(), 10000);
    doomed.kill9();
    // The outage itself must outlast the lease (this is the scenario, not a wait for a result).
    QTRY_VERIFY_WITH_TIMEOUT(outage.hasExpired(3 * config.leaseMs), 10000);
    QVERIFY(owner->runs()->isRunning(id));
    QVERIFY(redis.restart());
    QTRY_VERIFY_WITH_TIMEOUT(follower.isFinished(), 60000);
    QCOMPARE(follower.events().last().event, QByteArray("done"));
    QCOMPARE(follower.messageText(), Itinerary::write(QString::fromUtf8(prompt)).toUtf8());
    QCOMPARE(redis.cli({QStringLiteral("HGET"), QString::fromUtf8("agent-run:{" + id + "}"), QStringLiteral("status")}), QByteArray("completed"));
    const QString doomedRun = QString::fromUtf8("agent-run:{" + doomedId + "}");
    QTRY_COMPARE_WITH_TIMEOUT(redis.cli({QStringLiteral("HGET"), doomedRun, QStringLiteral("error_code")}), QByteArray("interrupted"), 15000);
}

void TestDurability::multiTurnConversation()
{
    QList<AgentRequest> seen;
    auto backend = startTestBackend(Config{}, m_redis.connectionString(),
                                    [&seen](const AgentRequest &, QObject *parent) { return new RecordingAgent(&seen, parent); });
    QVERIFY(backend);
    const quint16 port = backend->port();

    HttpClient first;
    first.request(port, "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, "Plan a 2-day trip to Prague");
    QTRY_VERIFY_WITH_TIMEOUT(first.isFinished(), 20000);
    const QByteArray id = first.header("x-conversation-id");

    HttpClient second;
    second.request(port, "POST", "/api/agent/" + id + "/messages", {{"Content-Type", "text/plain"}}, "Make it 3 days in Vienna instead");
    QTRY_VERIFY_WITH_TIMEOUT(second.isFinished(), 20000);
    QCOMPARE(second.status(), 200);
    QCOMPARE(second.header("x-conversation-id"), id);
    QVERIFY2(!second.events().isEmpty(), second.raw().constData());
    QCOMPARE(second.events().first().event, QByteArray("turn")); // only the new turn is streamed
    const QJsonObject turn = QJsonDocument::fromJson(second.events().first().data).object();
    QCOMPARE(turn.value(QStringLiteral("turn")).toInt(), 2);
    QCOMPARE(turn.value(QStringLiteral("prompt")).toString(), QStringLiteral("Make it 3 days in Vienna instead"));
    QCOMPARE(second.events().last().event, QByteArray("done"));

    // The model got the first turn as history.
    QCOMPARE(seen.size(), 2);
    QCOMPARE(seen.at(1).history.size(), 2);
    QCOMPARE(seen.at(1).history.at(0).role, QStringLiteral("user"));
    QCOMPARE(seen.at(1).history.at(0).content, QStringLiteral("Plan a 2-day trip to Prague"));
    QCOMPARE(seen.at(1).history.at(1).content.toUtf8(), first.messageText());

    // Replay from the start: both turns in order, ending once, after the latest turn.
    HttpClient replay;
    replay.request(port, "GET", "/api/agent/stream/" + id);
    QTRY_VERIFY_WITH_TIMEOUT(replay.isFinished(), 20000);
    QCOMPARE(replay.events().size(), first.events().size() + second.events().size());
    QCOMPARE(replay.messageText(), first.messageText() + second.messageText());
    int turns = 0, dones = 0;
    for (const auto &e : replay.events()) {
        turns += e.event == "turn";
        dones += e.event == "done";
    }
    QCOMPARE(turns, 2);
    QCOMPARE(dones, 2);
    QCOMPARE(replay.events().last().event, QByteArray("done"));

    // Errors: unknown conversation 404; a turn while one runs 409.
    HttpClient unknown;
    unknown.request(port, "POST", "/api/agent/@dafx-travelplanner@00000000000000000000000000000001/messages",
                    {{"Content-Type", "text/plain"}}, "hello");
    QTRY_VERIFY_WITH_TIMEOUT(unknown.headersDone() && unknown.body().endsWith('\n'), 10000);
    QCOMPARE(unknown.status(), 404);
    HttpClient third;
    third.request(port, "POST", "/api/agent/" + id + "/messages", {{"Content-Type", "text/plain"}, {"Accept", "application/json"}}, "And a day in Brno");
    QTRY_VERIFY_WITH_TIMEOUT(third.headersDone() && third.body().endsWith('\n'), 10000);
    QCOMPARE(third.status(), 202);
    HttpClient busy;
    busy.request(port, "POST", "/api/agent/" + id + "/messages", {{"Content-Type", "text/plain"}}, "One more");
    QTRY_VERIFY_WITH_TIMEOUT(busy.headersDone() && busy.body().endsWith('\n'), 10000);
    QCOMPARE(busy.status(), 409);
}

QTEST_GUILESS_MAIN(TestDurability)
#include "tst_durability.moc"
