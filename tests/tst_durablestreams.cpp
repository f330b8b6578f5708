// The Durable Streams protocol at /v1/stream against the real app on a real Redis:
//  - the official conformance suite (@durable-streams/server-conformance-tests, pinned with the
//    client in tests/durable/package-lock.json; `npm ci` runs here when node_modules is missing
//    or older than the lock) under vitest; every test must pass;
//  - the official @durable-streams/client following an agent run through
//    /v1/stream/agents/<id>, dropped and resumed (tests/durable/client.test.mjs);
//  - a few protocol answers checked directly (bad input changes nothing, tenancy).
#include "AppProcess.h"
#include "HttpClient.h"
#include "NodePackage.h"
#include "RedisServer.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

namespace {
const QString kDir = QStringLiteral(AGENT_STREAMS_DURABLE_DIR);
const QString kKey = QStringLiteral("durable-test-key-a-0123456789");
const QString kOtherKey = QStringLiteral("durable-test-key-b-0123456789");
constexpr int kConformanceTests = 332; // @durable-streams/server-conformance-tests 0.3.6 without subscriptions

QList<QPair<QByteArray, QByteArray>> auth(const QString &key)
{
    return {{"Authorization", "Bearer " + key.toUtf8()}};
}
} // namespace

class TestDurableStreams : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void conformanceSuite();
    void clientFollowsAgentRun();
    void badInputChangesNothing();
    void streamsArePerTenant();

private:
    // One request to the keyless app; waits for the whole answer.
    HttpClient *request(quint16 port, const QByteArray &method, const QByteArray &target,
                        const QList<QPair<QByteArray, QByteArray>> &headers = {}, const QByteArray &body = {});
    RedisServer m_redis;
    AppProcess m_open;  // no API keys: the conformance suite sends none
    AppProcess m_keyed; // API keys: the client test and tenancy
    QList<HttpClient *> m_clients;
};

void TestDurableStreams::initTestCase()
{
    QByteArray out;
    QVERIFY2(NodePackage::install(kDir, &out), out.constData());
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    // The suite's long-poll tests wait LP_TIMEOUT_MS + 1 s for a 204; it creates hundreds of streams.
    const QStringList common{QStringLiteral("--long-poll-timeout-ms"), QStringLiteral("500"), QStringLiteral("--creates-per-minute"),
                             QStringLiteral("0"), QStringLiteral("--demo-pace-ms"), QStringLiteral("15")};
    QVERIFY2(m_open.start(m_redis.connectionString(), common), m_open.log.constData());
    QVERIFY2(m_keyed.start(m_redis.connectionString(), common + QStringList{QStringLiteral("--api-keys"), kKey + QLatin1Char(',') + kOtherKey}),
             m_keyed.log.constData());
}

void TestDurableStreams::conformanceSuite()
{
    QTemporaryDir dir;
    const QString report = dir.filePath(QStringLiteral("conformance.json"));
    QProcess vitest;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("CONFORMANCE_TEST_URL"), m_open.baseUrl());
    env.insert(QStringLiteral("LP_TIMEOUT_MS"), QStringLiteral("500"));
    vitest.setProcessEnvironment(env);
    QByteArray out;
    const bool ok = NodePackage::run(vitest, kDir, QStringLiteral("npx"),
                        {QStringLiteral("--no-install"), QStringLiteral("vitest"), QStringLiteral("run"), QStringLiteral("conformance.test.mjs"),
                         QStringLiteral("--reporter=dot"), QStringLiteral("--reporter=json"), QStringLiteral("--outputFile=") + report},
                        280000, &out);
    QFile file(report);
    QVERIFY2(file.open(QIODevice::ReadOnly), (QByteArray("vitest wrote no report:\n") + out.right(4000)).constData());
    const QJsonObject result = QJsonDocument::fromJson(file.readAll()).object();
    QStringList failures;
    for (const QJsonValue &suite : result.value(QStringLiteral("testResults")).toArray())
        for (const QJsonValue &test : suite.toObject().value(QStringLiteral("assertionResults")).toArray())
            if (test.toObject().value(QStringLiteral("status")).toString() == QLatin1String("failed"))
                failures << test.toObject().value(QStringLiteral("fullName")).toString();
    const int passed = result.value(QStringLiteral("numPassedTests")).toInt();
    qInfo().noquote() << QStringLiteral("conformance: %1 passed, %2 failed of %3").arg(passed).arg(failures.size())
                             .arg(result.value(QStringLiteral("numTotalTests")).toInt());
    for (const QString &f : std::as_const(failures))
        qInfo().noquote() << "  FAILED:" << f;
    m_open.log += m_open.process.readAll();
    QVERIFY2(failures.isEmpty(), qPrintable(failures.join(QLatin1Char('\n'))));
    QCOMPARE(passed, kConformanceTests);
    QVERIFY2(ok, out.right(4000).constData());
}

void TestDurableStreams::clientFollowsAgentRun()
{
    QProcess node;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("AS_BASE"), m_keyed.baseUrl());
    env.insert(QStringLiteral("AS_KEY"), kKey);
    node.setProcessEnvironment(env);
    QByteArray out;
    const bool ok = NodePackage::run(node, kDir, QStringLiteral("node"), {QStringLiteral("--test"), QStringLiteral("--test-reporter=spec"), QStringLiteral("client.test.mjs")},
                        120000, &out);
    qInfo().noquote() << QString::fromUtf8(out);
    m_keyed.log += m_keyed.process.readAll();
    QVERIFY2(ok, (QByteArray("the client test failed; the app's log:\n") + m_keyed.log.right(4000)).constData());
}

HttpClient *TestDurableStreams::request(quint16 port, const QByteArray &method, const QByteArray &target,
                                        const QList<QPair<QByteArray, QByteArray>> &headers, const QByteArray &body)
{
    auto *c = new HttpClient(this);
    m_clients << c;
    c->request(port, method, target, headers + QList<QPair<QByteArray, QByteArray>>{{"Connection", "close"}}, body); // finished = closed
    if (!QTest::qWaitFor([c] { return c->isFinished(); }, 15000))
        qWarning() << "no complete answer to" << method << target;
    return c;
}

// Each refused request leaves the stream as it was: same tail, same content.
void TestDurableStreams::badInputChangesNothing()
{
    const quint16 port = m_open.port;
    const QByteArray path = "/v1/stream/bad-input-" + QByteArray::number(QDateTime::currentMSecsSinceEpoch());
    QCOMPARE(request(port, "PUT", path, {{"Content-Type", "text/plain"}}, "hello")->status(), 201);
    const QByteArray tail = request(port, "HEAD", path)->header("Stream-Next-Offset");
    QVERIFY(!tail.isEmpty());
    struct Bad
    {
        QByteArray method, target;
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray body;
        int status;
    };
    const QList<Bad> bad{
        {"POST", path, {{"Content-Type", "application/json"}}, R"({"a":1})", 409},                  // content type differs
        {"POST", path, {{"Content-Type", "text/plain"}}, "", 400},                               // empty body, not closing
        {"POST", path, {{"Content-Type", "text/plain"}, {"Producer-Id", "p"}}, "x", 400},         // partial producer headers
        {"POST", path, {{"Content-Type", "text/plain"}, {"Producer-Id", "p"}, {"Producer-Epoch", "-1"}, {"Producer-Seq", "0"}}, "x", 400},
        {"PUT", path, {{"Content-Type", "text/plain"}, {"Stream-TTL", "03600"}}, "", 400},       // leading zero
        {"PUT", path, {{"Content-Type", "text/plain"}, {"Stream-TTL", "60"}, {"Stream-Expires-At", "2030-01-01T00:00:00Z"}}, "", 400},
        {"PUT", path, {{"Content-Type", "application/json"}}, "", 409},                          // exists, other config
        {"GET", path + "?offset=12-34", {}, {}, 400},                                            // malformed offset
        {"GET", path + "?offset=-1&offset=-1", {}, {}, 400},
        {"GET", path + "?live=long-poll", {}, {}, 400},                                          // live needs an offset
    };
    for (const Bad &b : bad) {
        HttpClient *c = request(port, b.method, b.target, b.headers, b.body);
        QVERIFY2(c->status() == b.status, qPrintable(QStringLiteral("%1 %2: %3, expected %4 (%5)")
                                                         .arg(QString::fromUtf8(b.method), QString::fromUtf8(b.target))
                                                         .arg(c->status()).arg(b.status).arg(QString::fromUtf8(c->body()))));
    }
    HttpClient *read = request(port, "GET", path + "?offset=-1");
    QCOMPARE(read->status(), 200);
    QCOMPARE(read->body(), QByteArray("hello"));
    QCOMPARE(read->header("Stream-Next-Offset"), tail);

    // JSON mode: two values are not one JSON body (found by fuzz_durable_request), [] appends nothing.
    const QByteArray json = path + "-json";
    QCOMPARE(request(port, "PUT", json, {{"Content-Type", "application/json"}}, "[]")->status(), 201);
    for (const QByteArray &body : {QByteArray("1,2"), QByteArray("[]"), QByteArray("[1,]"), QByteArray("{\"a\":")})
        QCOMPARE(request(port, "POST", json, {{"Content-Type", "application/json"}}, body)->status(), 400);
    QCOMPARE(request(port, "GET", json + "?offset=-1")->body(), QByteArray("[]"));
}

// A key's streams do not exist for another key; without a key nothing is served.
void TestDurableStreams::streamsArePerTenant()
{
    const quint16 port = m_keyed.port;
    const QByteArray path = "/v1/stream/tenant-" + QByteArray::number(QDateTime::currentMSecsSinceEpoch());
    QCOMPARE(request(port, "PUT", path, auth(kKey) + QList<QPair<QByteArray, QByteArray>>{{"Content-Type", "text/plain"}}, "mine")->status(), 201);
    QCOMPARE(request(port, "GET", path + "?offset=-1", auth(kKey))->body(), QByteArray("mine"));
    QCOMPARE(request(port, "GET", path + "?offset=-1", auth(kOtherKey))->status(), 404);
    QCOMPARE(request(port, "POST", path, auth(kOtherKey) + QList<QPair<QByteArray, QByteArray>>{{"Content-Type", "text/plain"}}, "x")->status(), 404);
    QCOMPARE(request(port, "GET", path + "?offset=-1")->status(), 401);
    QCOMPARE(request(port, "GET", path + "?offset=-1", auth(kKey))->body(), QByteArray("mine"));
}

QTEST_GUILESS_MAIN(TestDurableStreams)
#include "tst_durablestreams.moc"
