// Sentinel: a primary, a replica and one sentinel, all real servers. The app finds the
// primary through the sentinel; a failover in the middle of 20 live streams (SENTINEL
// FAILOVER, and separately kill -9 of the primary) moves every connection to the new primary,
// re-sends buffered writes with their ids, and loses or doubles nothing.
#include "Backend.h"
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <vector>

namespace {
// redis-server in sentinel mode (what the redis-sentinel package runs), watching `mymaster`.
struct Sentinel
{
    QTemporaryDir dir;
    QProcess process;
    quint16 port = 0;
    QByteArray log;
    bool start(quint16 primaryPort)
    {
        port = RedisServer::freePort();
        QFile conf(dir.filePath(QStringLiteral("sentinel.conf")));
        if (!conf.open(QIODevice::WriteOnly))
            return false;
        conf.write(QStringLiteral("port %1\nbind 127.0.0.1\ndir %2\nsentinel monitor mymaster 127.0.0.1 %3 1\n"
                                  "sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n")
                       .arg(port)
                       .arg(dir.path())
                       .arg(primaryPort)
                       .toUtf8());
        conf.close();
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(QStringLiteral("redis-server"), {conf.fileName(), QStringLiteral("--sentinel")});
        if (!process.waitForStarted(5000))
            return false;
        return QTest::qWaitFor([&] {
            log += process.readAll();
            return log.contains("+monitor master mymaster");
        }, 10000);
    }
    QByteArray cli(const QStringList &args) const
    {
        QProcess p;
        p.start(QStringLiteral("redis-cli"), QStringList{QStringLiteral("-p"), QString::number(port)} + args);
        p.waitForFinished(5000);
        return p.readAllStandardOutput().trimmed();
    }
    ~Sentinel()
    {
        process.terminate();
        process.waitForFinished(5000);
    }
};

struct Topology
{
    RedisServer primary, replica;
    Sentinel sentinel;
    QString error;
    bool start()
    {
        if (!primary.start()) {
            error = primary.error();
            return false;
        }
        replica.setExtraArgs({QStringLiteral("--replicaof"), QStringLiteral("127.0.0.1"), QString::number(primary.port())});
        if (!replica.start()) {
            error = replica.error();
            return false;
        }
        if (!QTest::qWaitFor([&] { return replica.cli({QStringLiteral("INFO"), QStringLiteral("replication")}).contains("master_link_status:up"); }, 15000)) {
            error = QStringLiteral("the replica did not sync");
            return false;
        }
        if (!sentinel.start(primary.port())) {
            error = QStringLiteral("sentinel did not start: ") + QString::fromUtf8(sentinel.log.right(500));
            return false;
        }
        // The sentinel must know the replica before it can promote it.
        if (!QTest::qWaitFor([&] { return sentinel.cli({QStringLiteral("SENTINEL"), QStringLiteral("replicas"), QStringLiteral("mymaster")}).contains(QByteArray::number(replica.port())); }, 20000)) {
            error = QStringLiteral("the sentinel did not discover the replica");
            return false;
        }
        return true;
    }
    QString connectionString() const { return QStringLiteral("sentinel://127.0.0.1:%1/mymaster").arg(sentinel.port); }
};

} // namespace

class TestRedisSentinel : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void findsThePrimaryThroughTheSentinel();
    void failoverMidStream_data();
    void failoverMidStream();
};

void TestRedisSentinel::findsThePrimaryThroughTheSentinel()
{
    Topology t;
    QVERIFY2(t.start(), qPrintable(t.error));
    Config config;
    config.demoPaceMs = 1;
    auto backend = startTestBackend(config, t.connectionString());
    QVERIFY(backend);
    HttpClient run;
    run.request(backend->port(), "POST", "/api/agent/create", {{"Accept", "text/event-stream"}, {"Content-Type", "text/plain"}}, "Plan a trip to Oslo");
    QTRY_VERIFY_WITH_TIMEOUT(run.isFinished(), 30000);
    QCOMPARE(run.events().last().event, QByteArray("done"));
    // Written to the primary (and replicated), never to the replica directly.
    const QByteArray key = "agent-stream:{" + run.header("x-conversation-id") + "}";
    QCOMPARE(t.primary.cli({QStringLiteral("XLEN"), QString::fromUtf8(key)}).toInt(), int(run.events().size()));
}

void TestRedisSentinel::failoverMidStream_data()
{
    QTest::addColumn<bool>("kill");
    QTest::newRow("SENTINEL FAILOVER") << false;
    QTest::newRow("kill -9 of the primary") << true;
}

void TestRedisSentinel::failoverMidStream()
{
    QFETCH(bool, kill);
    Topology t;
    QVERIFY2(t.start(), qPrintable(t.error));
    Config config;
    config.demoPaceMs = 15;
    auto backend = startTestBackend(config, t.connectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    QElapsedTimer clock;
    clock.start();
    // 10 runs, each read live by its create response and by a second reader: 20 readers.
    std::vector<std::unique_ptr<HttpClient>> readers;
    std::vector<std::unique_ptr<QList<qint64>>> arrivals;
    auto track = [&](HttpClient *c) {
        arrivals.push_back(std::make_unique<QList<qint64>>());
        QList<qint64> *times = arrivals.back().get();
        connect(c, &HttpClient::eventReceived, c, [times, &clock] { times->append(clock.elapsed()); });
    };
    for (int i = 0; i < 10; ++i) {
        readers.push_back(std::make_unique<HttpClient>());
        track(readers.back().get());
        readers.back()->request(port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}, {"Content-Type", "text/plain"}},
                                "Plan a 5-day trip to Madrid");
    }
    for (int i = 0; i < 10; ++i) {
        QTRY_VERIFY_WITH_TIMEOUT(!readers.at(size_t(i))->header("x-conversation-id").isEmpty(), 10000);
        readers.push_back(std::make_unique<HttpClient>());
        track(readers.back().get());
        readers.back()->request(port, "GET", "/api/agent/stream/" + readers.at(size_t(i))->header("x-conversation-id"), {{"Accept", "text/event-stream"}});
    }
    for (const auto &r : readers)
        QTRY_VERIFY_WITH_TIMEOUT(r->events().size() >= 5, 15000);

    const qint64 failoverAt = clock.elapsed();
    if (kill)
        t.primary.kill();
    else
        QCOMPARE(t.sentinel.cli({QStringLiteral("SENTINEL"), QStringLiteral("FAILOVER"), QStringLiteral("mymaster")}), QByteArray("OK"));
    QTRY_VERIFY_WITH_TIMEOUT(t.sentinel.cli({QStringLiteral("SENTINEL"), QStringLiteral("get-master-addr-by-name"), QStringLiteral("mymaster")})
                                 .contains(QByteArray::number(t.replica.port())),
                             30000);
    for (const auto &r : readers)
        QTRY_VERIFY_WITH_TIMEOUT(r->isFinished(), 60000);

    // The longest silence any reader saw after the failover began: how long writes stalled.
    qint64 stall = 0;
    for (const auto &times : arrivals) {
        qint64 previous = failoverAt;
        for (qint64 t : std::as_const(*times)) {
            if (t < failoverAt)
                continue;
            stall = qMax(stall, t - previous);
            previous = t;
        }
    }
    qInfo("%s: readers stalled at most %lld ms", kill ? "kill -9" : "SENTINEL FAILOVER", stall);

    // Every reader saw exactly what the new primary holds, each id once, ending with done.
    for (const auto &r : readers) {
        const QByteArray id = r->header("x-conversation-id");
        const auto stored = HttpClient::replay(port, id);
        const auto &seen = r->events();
        QVERIFY2(!seen.isEmpty() && seen.last().event == "done", qPrintable(QString::fromUtf8(id + " ended with " + (seen.isEmpty() ? QByteArray() : seen.last().event + ' ' + seen.last().data))));
        QSet<QByteArray> ids;
        for (const auto &e : seen)
            QVERIFY2(!ids.contains(e.id) && (ids.insert(e.id), true), qPrintable(QString::fromUtf8("duplicate id " + e.id)));
        // The second reader of a run starts at the beginning too: both equal the replay.
        QCOMPARE(seen.size(), stored.size());
        for (qsizetype i = 0; i < seen.size(); ++i) {
            QCOMPARE(seen.at(i).id, stored.at(i).id);
            QCOMPARE(seen.at(i).data, stored.at(i).data);
        }
    }
}

QTEST_GUILESS_MAIN(TestRedisSentinel)
#include "tst_redissentinel.moc"
