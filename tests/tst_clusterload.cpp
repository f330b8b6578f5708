// The app on a real Redis Cluster (3 primaries + 3 replicas) under load: runs spread over every
// primary and followed live on another instance, a primary killed mid-stream, slots resharded
// under live conversations. Every reader's text must equal the full replay, with no duplicate
// or missing id, and every run must end with `done`.
#include "HttpClient.h"
#include "RedisCluster.h"
#include "TestBackend.h"

#include "agents/Itinerary.h"
#include "redis/KeySlot.h"
#include "redis/RedisConnection.h"
#include "streams/StreamEntry.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>
#include <map>

class TestClusterLoad : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void hundredRunsOverThreePrimariesFollowedOnAnotherInstance();
    void primaryKilledWithFiftyLiveRuns();
    void reshardUnderLiveRuns();
    void createsDuringAFailoverGoToLiveShards();

private:
    struct Run
    {
        QByteArray id;
        QString prompt;
        std::unique_ptr<HttpClient> follower;
        QList<qint64> arrivals; // ms on the test's clock, one per event
    };
    // Starts `count` runs on `owner` (202 + id, background mode) and follows each live on `reader`.
    std::vector<std::unique_ptr<Run>> startRuns(int count, quint16 owner, quint16 reader);
    // Every run ended with done, its text is the agent's, and equals the full replay (read on
    // `replayPort`), ids strictly increasing.
    void verifyRuns(const std::vector<std::unique_ptr<Run>> &runs, quint16 replayPort);
    static QByteArray streamKey(const QByteArray &id) { return "agent-stream:{" + id + "}"; }
    static std::map<quint16, int> streamsPerPrimary(const RedisCluster &cluster);
    // A started cluster and two app instances on it (the owner of the runs, their reader).
    struct Deployment
    {
        RedisCluster cluster;
        std::unique_ptr<Backend> owner, reader;
    };
    static bool deploy(Deployment &d, int demoPaceMs);
    QElapsedTimer m_clock;
};

std::vector<std::unique_ptr<TestClusterLoad::Run>> TestClusterLoad::startRuns(int count, quint16 owner, quint16 reader)
{
    if (!m_clock.isValid())
        m_clock.start();
    std::vector<std::unique_ptr<Run>> runs;
    for (int i = 0; i < count; ++i) {
        auto run = std::make_unique<Run>();
        run->prompt = QStringLiteral("Plan a %1-day trip to city number %2").arg(2 + i % 5).arg(i);
        HttpClient create;
        create.request(owner, "POST", "/api/agent/create", {{"Content-Type", "text/plain"}, {"Accept", "application/json"}, {"Connection", "close"}},
                       run->prompt.toUtf8());
        if (!QTest::qWaitFor([&] { return create.isFinished(); }, 15000) || create.status() != 202) {
            qWarning() << "create" << i << "answered" << create.status() << create.body();
            return {};
        }
        run->id = QJsonDocument::fromJson(create.body()).object().value(QStringLiteral("id")).toString().toUtf8();
        run->follower = std::make_unique<HttpClient>();
        Run *raw = run.get();
        connect(run->follower.get(), &HttpClient::eventReceived, this, [this, raw] { raw->arrivals.append(m_clock.elapsed()); });
        run->follower->request(reader, "GET", "/api/agent/stream/" + run->id, {{"Accept", "text/event-stream"}});
        runs.push_back(std::move(run));
    }
    return runs;
}

void TestClusterLoad::verifyRuns(const std::vector<std::unique_ptr<Run>> &runs, quint16 replayPort)
{
    for (const auto &run : runs) {
        const QList<HttpClient::Event> &live = run->follower->events();
        QVERIFY2(!live.isEmpty() && live.last().event == "done",
                 qPrintable(QStringLiteral("%1 ended with %2").arg(QString::fromUtf8(run->id), live.isEmpty() ? QStringLiteral("nothing") : QString::fromUtf8(live.last().event + " " + live.last().data))));
        EntryId previous;
        for (const HttpClient::Event &e : live) {
            const std::optional<EntryId> id = EntryId::parse(e.id);
            QVERIFY2(id && previous < *id, qPrintable(QStringLiteral("%1: id %2 after %3").arg(QString::fromUtf8(run->id), QString::fromUtf8(e.id), QString::fromUtf8(previous.toBytes()))));
            previous = *id;
        }
        QCOMPARE(run->follower->messageText(), Itinerary::write(run->prompt).toUtf8());
        const QList<HttpClient::Event> replay = HttpClient::replay(replayPort, run->id);
        QCOMPARE(replay.size(), live.size());
        for (int i = 0; i < live.size(); ++i) {
            QCOMPARE(replay.at(i).id, live.at(i).id);
            QCOMPARE(replay.at(i).data, live.at(i).data);
        }
    }
}

bool TestClusterLoad::deploy(Deployment &d, int demoPaceMs)
{
    if (!d.cluster.start()) {
        qWarning().noquote() << d.cluster.error();
        return false;
    }
    Config config;
    config.createsPerMinute = 0; // every run comes from this one address
    config.demoPaceMs = demoPaceMs;
    QString error;
    d.owner = startTestBackend(config, d.cluster.connectionString(), {}, &error);
    if (d.owner)
        d.reader = startTestBackend(config, d.cluster.connectionString(), {}, &error);
    if (!d.reader)
        qWarning().noquote() << error;
    return d.reader != nullptr;
}

std::map<quint16, int> TestClusterLoad::streamsPerPrimary(const RedisCluster &cluster)
{
    std::map<quint16, int> out;
    for (quint16 port : cluster.ports())
        if (cluster.cli(port, {QStringLiteral("ROLE")}).startsWith("master"))
            out[port] = cluster.cli(port, {QStringLiteral("EVAL"), QStringLiteral("return #redis.call('KEYS', 'agent-stream:*')"), QStringLiteral("0")}).toInt();
    return out;
}

void TestClusterLoad::hundredRunsOverThreePrimariesFollowedOnAnotherInstance()
{
    Deployment d;
    QVERIFY(deploy(d, 5));
    RedisCluster &cluster = d.cluster;
    Backend *owner = d.owner.get();
    Backend *reader = d.reader.get();
    const auto runs = startRuns(100, owner->port(), reader->port());
    QCOMPARE(int(runs.size()), 100);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(runs.cbegin(), runs.cend(), [](const auto &r) { return r->follower->isFinished(); }), 120000);
    verifyRuns(runs, owner->port());
    const auto perNode = streamsPerPrimary(cluster);
    QStringList counts;
    for (const auto &[port, n] : perNode) {
        counts << QStringLiteral("%1: %2").arg(port).arg(n);
        QVERIFY2(n > 0, "every primary holds conversations");
    }
    QCOMPARE(int(perNode.size()), 3);
    qInfo().noquote() << "streams per primary:" << counts.join(QStringLiteral(", "));
    qInfo().noquote() << "Redis connections: owner" << owner->connections().size() << "reader" << reader->connections().size();
}

void TestClusterLoad::primaryKilledWithFiftyLiveRuns()
{
    Deployment d;
    QVERIFY(deploy(d, 60)); // runs of several seconds: they outlive the failover
    RedisCluster &cluster = d.cluster;
    Backend *owner = d.owner.get();
    Backend *reader = d.reader.get();
    const auto runs = startRuns(50, owner->port(), reader->port());
    QCOMPARE(int(runs.size()), 50);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(runs.cbegin(), runs.cend(), [](const auto &r) { return r->follower->events().size() >= 3; }), 30000);
    const quint16 victim = cluster.primaryOf(streamKey(runs.front()->id));
    QVERIFY(victim != 0);
    std::vector<const Run *> onVictim;
    for (const auto &r : runs)
        if (cluster.primaryOf(streamKey(r->id)) == victim)
            onVictim.push_back(r.get());
    const qint64 killedAt = m_clock.elapsed();
    cluster.kill(victim);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(runs.cbegin(), runs.cend(), [](const auto &r) { return r->follower->isFinished(); }), 120000);
    verifyRuns(runs, reader->port());
    // The longest pause a reader of the killed shard saw after the kill (the failover).
    qint64 stall = 0;
    for (const Run *r : onVictim) {
        qint64 before = killedAt;
        for (qint64 t : r->arrivals) {
            if (t < killedAt)
                continue;
            stall = qMax(stall, t - before);
            before = t;
        }
    }
    qInfo().noquote() << QStringLiteral("killed primary %1 holding %2 of 50 live runs; its readers stalled at most %3 ms; all runs done")
                             .arg(victim)
                             .arg(onVictim.size())
                             .arg(stall);
    QVERIFY(!onVictim.empty());
}

void TestClusterLoad::reshardUnderLiveRuns()
{
    Deployment d;
    QVERIFY(deploy(d, 40));
    RedisCluster &cluster = d.cluster;
    Backend *owner = d.owner.get();
    Backend *reader = d.reader.get();
    const auto runs = startRuns(60, owner->port(), reader->port());
    QCOMPARE(int(runs.size()), 60);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(runs.cbegin(), runs.cend(), [](const auto &r) { return r->follower->events().size() >= 2; }), 30000);
    // Drain one primary into another while its conversations are written and read.
    const quint16 from = cluster.primaryOf(streamKey(runs.front()->id));
    quint16 to = 0;
    for (const auto &[port, n] : streamsPerPrimary(cluster))
        if (port != from)
            to = port;
    QVERIFY(from && to);
    int moved = 0;
    for (const auto &r : runs)
        moved += cluster.primaryOf(streamKey(r->id)) == from ? 1 : 0;
    const QString fromId = QString::fromUtf8(cluster.cli(from, {QStringLiteral("CLUSTER"), QStringLiteral("MYID")}));
    const QString toId = QString::fromUtf8(cluster.cli(to, {QStringLiteral("CLUSTER"), QStringLiteral("MYID")}));
    // How many slots `from` serves: the ranges at the end of its own CLUSTER NODES line.
    int slotCount = 0;
    for (const QByteArray &line : cluster.cli(from, {QStringLiteral("CLUSTER"), QStringLiteral("NODES")}).split('\n')) {
        if (!line.contains("myself"))
            continue;
        const QList<QByteArray> fields = line.trimmed().split(' ');
        for (int i = 8; i < fields.size(); ++i) {
            const QList<QByteArray> range = fields.at(i).split('-');
            if (!fields.at(i).startsWith('['))
                slotCount += range.size() == 2 ? range.at(1).toInt() - range.at(0).toInt() + 1 : 1;
        }
    }
    QVERIFY(slotCount > 0);
    QProcess reshard;
    reshard.setProcessChannelMode(QProcess::MergedChannels);
    QElapsedTimer took;
    took.start();
    reshard.start(QStringLiteral("redis-cli"), {QStringLiteral("--cluster"), QStringLiteral("reshard"), QStringLiteral("127.0.0.1:%1").arg(from),
                                                QStringLiteral("--cluster-from"), fromId, QStringLiteral("--cluster-to"), toId,
                                                QStringLiteral("--cluster-slots"), QString::number(slotCount), QStringLiteral("--cluster-yes"),
                                                QStringLiteral("--cluster-pipeline"), QStringLiteral("20")});
    // The backends share this thread: wait by spinning the event loop, never blocking it.
    QTRY_VERIFY_WITH_TIMEOUT(reshard.state() == QProcess::NotRunning, 120000);
    const QByteArray log = reshard.readAll();
    QVERIFY2(reshard.exitCode() == 0, log.right(1500).constData());
    const qint64 reshardMs = took.elapsed();
    // The drained node serves nothing now: the first conversation's keys are on `to`.
    QCOMPARE(cluster.primaryOf(streamKey(runs.front()->id)), to);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(runs.cbegin(), runs.cend(), [](const auto &r) { return r->follower->isFinished(); }), 120000);
    verifyRuns(runs, reader->port());
    qInfo().noquote() << QStringLiteral("resharded every slot of %1 (%2 slots) to %3 in %4 ms under %5 live runs, %6 of them on the drained node; all done, none lost or doubled")
                             .arg(from)
                             .arg(slotCount)
                             .arg(to)
                             .arg(reshardMs)
                             .arg(runs.size())
                             .arg(moved);
    QVERIFY(moved > 0);
}


// A primary is down and its replica not promoted yet: creates on the instance that saw its
// connection drop draw conversation ids in the slots of the live primaries (RunManager::start)
// and get 202, not 503, without waiting for the failover; every one of those runs completes. None
// lands in the dead shard's slots (served, once the failover is over, by the promoted replica).
void TestClusterLoad::createsDuringAFailoverGoToLiveShards()
{
    Deployment d;
    QVERIFY(deploy(d, 5));
    RedisCluster &cluster = d.cluster;
    Backend *owner = d.owner.get();
    const quint16 victim = cluster.primaryOf(streamKey("probe"));
    quint16 replica = 0;
    for (quint16 port : cluster.ports()) {
        const QByteArray role = cluster.cli(port, {QStringLiteral("ROLE")});
        if (role.startsWith("slave") && role.contains("\n" + QByteArray::number(victim) + "\n"))
            replica = port;
    }
    QVERIFY2(victim != 0 && replica != 0, "the victim primary and its replica");
    cluster.kill(victim);
    // The owner sees its connections to the victim drop (the kill closes them at once).
    auto victimUp = [owner, victim] {
        const QList<RedisConnection *> connections = owner->connections();
        return std::any_of(connections.cbegin(), connections.cend(), [victim](const RedisConnection *c) { return c->peerPort() == victim && c->isConnected(); });
    };
    QTRY_VERIFY_WITH_TIMEOUT(!victimUp(), 10000);
    QElapsedTimer outage;
    outage.start();
    const auto runs = startRuns(10, owner->port(), d.reader->port());
    QCOMPARE(int(runs.size()), 10); // every create answered 202
    const qint64 createsMs = outage.elapsed();
    // Before the replica took over: the creates did not wait for the failover (the first copy
    // of the lease-bucket registry is on this very primary: slot 5166, like `{probe}`'s 5258).
    const bool stillDown = cluster.cli(replica, {QStringLiteral("ROLE")}).startsWith("slave");
    qInfo().noquote() << QStringLiteral("10 creates in %1 ms while primary %2 was down (its replica %3 promoted by then: %4)")
                             .arg(createsMs)
                             .arg(victim)
                             .arg(replica)
                             .arg(stillDown ? QStringLiteral("no") : QStringLiteral("yes"));
    QVERIFY2(stillDown, "the creates waited for the failover");
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(runs.cbegin(), runs.cend(), [](const auto &r) { return r->follower->isFinished(); }), 120000);
    verifyRuns(runs, d.reader->port());
    QVERIFY(cluster.waitForOk(30000));
    for (const auto &r : runs) // none in the dead shard's slots (the promoted replica's now)
        QVERIFY2(cluster.primaryOf(streamKey(r->id)) != replica, r->id.constData());
    // The registry copy that was down lists every new bucket once its replica took over.
    const QByteArray registry = StreamKeys::leaseBucketRegistries(true).first();
    for (const auto &r : runs) {
        const QString bucket = QString::fromLatin1(StreamKeys::leaseBucket(r->id));
        QTRY_COMPARE_WITH_TIMEOUT(cluster.cli(cluster.primaryOf(registry), {QStringLiteral("SISMEMBER"), QString::fromLatin1(registry), bucket}),
                                  QByteArray("1"), 15000);
    }
}

QTEST_GUILESS_MAIN(TestClusterLoad)
#include "tst_clusterload.moc"
