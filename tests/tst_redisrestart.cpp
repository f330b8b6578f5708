// Redis that is up but not serving: restarting and replaying a large append-only file
// (-LOADING), busy with a slow script (-BUSY), or frozen (SIGSTOP). Live runs must ride it out
// (their writes wait and are retried with the same ids), readers must keep waiting and end
// complete, and /readyz must say 503 meanwhile.
#include "Backend.h"
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

#include <csignal>
#include <memory>
#include <vector>

namespace {
int readyz(quint16 port)
{
    HttpClient c;
    c.request(port, "GET", "/readyz");
    if (!QTest::qWaitFor([&] { return c.isFinished() || (c.headersDone() && c.body().endsWith('\n')); }, 10000))
        return 0;
    return c.status();
}

// Every run's live reader saw exactly what Redis holds: same ids, same text, ending in done.
bool sameAsReplay(quint16 port, const HttpClient &live, QString *why)
{
    const QByteArray id = live.header("x-conversation-id");
    const auto stored = HttpClient::replay(port, id);
    const auto &seen = live.events();
    if (seen.isEmpty() || seen.last().event != "done") {
        *why = QStringLiteral("%1 did not end with done (last: %2)").arg(QString::fromUtf8(id), seen.isEmpty() ? QString() : QString::fromUtf8(seen.last().event + ' ' + seen.last().data));
        return false;
    }
    if (stored.size() != seen.size()) {
        *why = QStringLiteral("%1: %2 events live, %3 stored").arg(QString::fromUtf8(id)).arg(seen.size()).arg(stored.size());
        return false;
    }
    for (qsizetype i = 0; i < seen.size(); ++i) {
        if (seen.at(i).id != stored.at(i).id || seen.at(i).data != stored.at(i).data) {
            *why = QStringLiteral("%1: event %2 differs").arg(QString::fromUtf8(id)).arg(i);
            return false;
        }
    }
    return true;
}
} // namespace

class TestRedisRestart : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void runsSurviveARestartThatLoadsForOverASecond();
    void runsSurviveABusyScript();
    void readyzFailsWhileRedisIsFrozen();
};

void TestRedisRestart::runsSurviveARestartThatLoadsForOverASecond()
{
    RedisServer redis;
    redis.setExtraArgs({QStringLiteral("--enable-debug-command"), QStringLiteral("local")});
    QVERIFY2(redis.start(true), qPrintable(redis.error()));
    // An append-only file that takes a while to replay: ~1M keys written as commands (no RDB
    // preamble), about 100 MB.
    QCOMPARE(redis.cli({QStringLiteral("DEBUG"), QStringLiteral("POPULATE"), QStringLiteral("1000000"), QStringLiteral("fill"), QStringLiteral("40")}),
             QByteArray("OK"));
    redis.cli({QStringLiteral("CONFIG"), QStringLiteral("SET"), QStringLiteral("aof-use-rdb-preamble"), QStringLiteral("no")});
    redis.cli({QStringLiteral("BGREWRITEAOF")});
    QTRY_VERIFY_WITH_TIMEOUT(redis.cli({QStringLiteral("INFO"), QStringLiteral("persistence")}).contains("aof_rewrite_in_progress:0")
                                 && redis.cli({QStringLiteral("INFO"), QStringLiteral("persistence")}).contains("aof_rewrite_scheduled:0"),
                             60000);

    Config config;
    config.demoPaceMs = 25; // a few hundred chunks each: the runs are still streaming during the restart
    auto backend = startTestBackend(config, redis.connectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    QCOMPARE(readyz(port), 200);
    std::vector<std::unique_ptr<HttpClient>> runs;
    for (int i = 0; i < 4; ++i) {
        runs.push_back(std::make_unique<HttpClient>());
        runs.back()->request(port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}, {"Content-Type", "text/plain"}},
                             "Plan a 7-day trip to Lisbon");
    }
    for (const auto &r : runs)
        QTRY_VERIFY_WITH_TIMEOUT(r->events().size() >= 5, 10000);

    redis.stop();
    QVERIFY2(redis.restart(false), qPrintable(redis.error()));
    QElapsedTimer loading;
    loading.start();
    bool sawLoading = false;
    bool sawNotReady = false;
    QTRY_VERIFY_WITH_TIMEOUT([&] {
        const QByteArray pong = redis.cli({QStringLiteral("PING")});
        sawLoading |= pong.startsWith("LOADING");
        if (sawLoading && !sawNotReady)
            sawNotReady = readyz(port) == 503;
        return pong == "PONG";
    }(), 120000);
    const qint64 loadMs = loading.elapsed();
    qInfo("Redis answered PING %lld ms after its restart (append-only file replay)", loadMs);
    QVERIFY2(sawLoading, "Redis never answered LOADING: the append-only file is too small for this test");
    QVERIFY2(loadMs > 1000, "the append-only file loaded in under a second: make it larger");
    QVERIFY2(sawNotReady, "/readyz said 200 while Redis was loading");

    // Every live run ends with done, and every reader got exactly what is stored.
    for (const auto &r : runs)
        QTRY_VERIFY_WITH_TIMEOUT(r->isFinished(), 60000);
    for (const auto &r : runs) {
        QString why;
        QVERIFY2(sameAsReplay(port, *r, &why), qPrintable(why));
    }
    QTRY_COMPARE_WITH_TIMEOUT(readyz(port), 200, 10000);
}

void TestRedisRestart::runsSurviveABusyScript()
{
    // A script that runs too long makes Redis answer -BUSY to everyone else until it ends (or
    // SCRIPT KILL): transient, so runs and readers wait instead of failing.
    RedisServer redis;
    redis.setExtraArgs({QStringLiteral("--busy-reply-threshold"), QStringLiteral("50")});
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    Config config;
    config.demoPaceMs = 10;
    auto backend = startTestBackend(config, redis.connectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    HttpClient run;
    run.request(port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}, {"Content-Type", "text/plain"}}, "Plan a 5-day trip to Seville");
    QTRY_VERIFY_WITH_TIMEOUT(run.events().size() >= 5, 10000);
    // A read-only busy loop of about 1.5 s (the server's clock is the bound, so no kill needed).
    QProcess busy;
    busy.start(QStringLiteral("redis-cli"), {QStringLiteral("-p"), QString::number(redis.port()), QStringLiteral("EVAL"),
                                             QStringLiteral("local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
                                                            "while true do local n = redis.call('TIME') "
                                                            "if n[1] * 1000000 + n[2] - s > 1500000 then break end end return 1"),
                                             QStringLiteral("0")});
    QVERIFY(busy.waitForStarted(5000));
    QTRY_VERIFY_WITH_TIMEOUT(redis.cli({QStringLiteral("PING")}).startsWith("BUSY"), 5000);
    QCOMPARE(readyz(port), 503);
    QTRY_VERIFY_WITH_TIMEOUT(busy.state() == QProcess::NotRunning, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(run.isFinished(), 30000);
    QString why;
    QVERIFY2(sameAsReplay(port, run, &why), qPrintable(why));
}

void TestRedisRestart::readyzFailsWhileRedisIsFrozen()
{
    // SIGSTOP keeps every connection open and answers nothing: /readyz must notice from its
    // probe's silence, not from the connection state.
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    Config config;
    auto backend = startTestBackend(config, redis.connectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    QCOMPARE(readyz(port), 200);
    QCOMPARE(::kill(pid_t(redis.pid()), SIGSTOP), 0);
    const int frozen = readyz(port);
    ::kill(pid_t(redis.pid()), SIGCONT);
    QCOMPARE(frozen, 503);
    QTRY_COMPARE_WITH_TIMEOUT(readyz(port), 200, 10000);
}

QTEST_GUILESS_MAIN(TestRedisRestart)
#include "tst_redisrestart.moc"
