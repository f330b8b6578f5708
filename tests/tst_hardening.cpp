// Production hardening: API keys and ownership, limits, the request guard, /metrics, Redis
// outages seen by readers, cancel across instances.
#include "Backend.h"
#include "HttpClient.h"
#include "Metrics.h"
#include "RedisServer.h"
#include "TestBackend.h"
#include "agents/Itinerary.h"
#include "runs/RunManager.h"

#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>

namespace {
const QByteArray kKeyA = "key-a-0123456789abcdef";
const QByteArray kKeyB = "key-b-0123456789abcdef";

struct Reply
{
    int status = 0;
    QByteArray body;
    QByteArray retryAfter;
    QByteArray contentType;
};

Reply call(quint16 port, const QByteArray &method, const QByteArray &target, const QList<QPair<QByteArray, QByteArray>> &headers = {},
           const QByteArray &body = {})
{
    HttpClient c;
    auto h = headers;
    if (method == "POST" && body.isEmpty())
        h.emplace_back("Content-Length", "0");
    c.request(port, method, target, h, body);
    if (!QTest::qWaitFor([&] {
            return c.isFinished() || (c.headersDone() && !c.header("Content-Length").isEmpty() && c.body().size() >= c.header("Content-Length").toInt());
        }, 15000))
        return {};
    return {c.status(), c.body(), c.header("Retry-After"), c.header("Content-Type")};
}

QList<QPair<QByteArray, QByteArray>> bearer(const QByteArray &key)
{
    return {{"Authorization", "Bearer " + key}};
}
} // namespace

class TestHardening : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void auth_data();
    void auth();
    void ownership();
    void ownershipOfARunningConversation();
    void accessTokenForEventSource();
    void rateLimit();
    void streamLimit();
    void slowLorisIsClosed();
    void oversizedHeadersAndBody();
    void metricsExposition();
    void metricsRecordTheTrafficSent();
    void outageReadersResumeAndReadyzFlips();
    void outageGracePeriodEndsReaders();
    void cancelFromAnotherInstance();
    void tlsWithSelfSignedCertificate();

private:
    std::unique_ptr<Backend> startBackend(Config config, const QString &redis);
    RedisServer m_redis;
    std::unique_ptr<Backend> m_secure;
};

std::unique_ptr<Backend> TestHardening::startBackend(Config config, const QString &redis)
{
    return startTestBackend(config, redis);
}

void TestHardening::initTestCase()
{
    QVERIFY2(m_redis.start(true), qPrintable(m_redis.error()));
    Config config;
    config.apiKeys = {QString::fromUtf8(kKeyA), QString::fromUtf8(kKeyB)};
    config.demoPaceMs = 1;
    m_secure = startBackend(config, m_redis.connectionString());
    QVERIFY(m_secure);
}

void TestHardening::auth_data()
{
    QTest::addColumn<QByteArray>("authorization");
    QTest::addColumn<int>("status");
    QTest::newRow("no key") << QByteArray() << 401;
    QTest::newRow("wrong key") << QByteArray("Bearer nope-nope-nope-nope-nope") << 401;
    QTest::newRow("prefix of a key") << QByteArray("Bearer key-a-0123") << 401;
    QTest::newRow("key without Bearer") << kKeyA << 401;
    QTest::newRow("right key") << "Bearer " + kKeyA << 200;
    QTest::newRow("right key, lowercase scheme") << "bearer " + kKeyB << 200;
}

void TestHardening::auth()
{
    QFETCH(QByteArray, authorization);
    QFETCH(int, status);
    QList<QPair<QByteArray, QByteArray>> headers{{"Content-Type", "text/plain"}, {"Accept", "text/plain"}};
    if (!authorization.isEmpty())
        headers.emplace_back("Authorization", authorization);
    HttpClient c;
    c.request(m_secure->port(), "POST", "/api/agent/create", headers, "Plan a weekend in Rome");
    QTRY_VERIFY_WITH_TIMEOUT(c.isFinished() || (c.status() == 401 && c.body().endsWith('\n')), 20000);
    QCOMPARE(c.status(), status);
    if (status == 401) {
        QVERIFY(c.header("WWW-Authenticate").startsWith("Bearer"));
        QVERIFY(c.body().contains("API key"));
    } else {
        QVERIFY(c.body().contains("2-Day Trip to Rome"));
    }
    // Health endpoints stay open for probes.
    QCOMPARE(call(m_secure->port(), "GET", "/healthz").status, 200);
}

void TestHardening::ownership()
{
    HttpClient create;
    create.request(m_secure->port(), "POST", "/api/agent/create", bearer(kKeyA) + QList<QPair<QByteArray, QByteArray>>{{"Accept", "text/event-stream"}},
                   "Plan a trip to Kyoto");
    QTRY_VERIFY_WITH_TIMEOUT(create.isFinished(), 20000);
    const QByteArray id = create.header("x-conversation-id");
    const quint16 port = m_secure->port();
    // The owner sees everything.
    QCOMPARE(call(port, "GET", "/api/agent/" + id, bearer(kKeyA)).status, 200);
    QCOMPARE(call(port, "GET", "/api/agent/stream/" + id, bearer(kKeyA) + QList<QPair<QByteArray, QByteArray>>{{"Accept", "text/plain"}}).status, 200);
    QVERIFY(!call(port, "GET", "/api/agent/" + id, bearer(kKeyA)).body.contains("tenant"));
    // Another key: as if it did not exist.
    for (const auto &[method, target] : QList<QPair<QByteArray, QByteArray>>{{"GET", "/api/agent/stream/" + id},
                                                                            {"GET", "/api/agent/" + id},
                                                                            {"POST", "/api/agent/" + id + "/cancel"}}) {
        const Reply r = call(port, method, target, bearer(kKeyB));
        QVERIFY2(r.status == 404, target.constData());
    }
    const Reply turn = call(port, "POST", "/api/agent/" + id + "/messages", bearer(kKeyB) + QList<QPair<QByteArray, QByteArray>>{{"Content-Type", "text/plain"}}, "hi");
    QCOMPARE(turn.status, 404);
    // No key at all: 401 before anything is looked up.
    QCOMPARE(call(port, "GET", "/api/agent/" + id).status, 401);
}

void TestHardening::ownershipOfARunningConversation()
{
    // Another key must not learn that a conversation exists, even while it runs: every route
    // answers 404, /messages included (it answered 409 "still running" before the ownership
    // check).
    Config config;
    config.apiKeys = {QString::fromUtf8(kKeyA), QString::fromUtf8(kKeyB)};
    config.demoPaceMs = 200; // runs for a minute: still running during the checks
    auto backend = startBackend(config, m_redis.connectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    const Reply created = call(port, "POST", "/api/agent/create", bearer(kKeyA) + QList<QPair<QByteArray, QByteArray>>{{"Accept", "application/json"}},
                               "Plan a trip to Oslo");
    QCOMPARE(created.status, 202);
    const QByteArray id = QJsonDocument::fromJson(created.body).object().value(QStringLiteral("id")).toString().toUtf8();
    QVERIFY(!id.isEmpty());
    const auto text = QList<QPair<QByteArray, QByteArray>>{{"Content-Type", "text/plain"}, {"Accept", "application/json"}};
    const Reply stranger = call(port, "POST", "/api/agent/" + id + "/messages", bearer(kKeyB) + text, "and then?");
    QCOMPARE(stranger.status, 404);
    QVERIFY(!stranger.body.contains("running"));
    // The owner is told the truth.
    QCOMPARE(call(port, "POST", "/api/agent/" + id + "/messages", bearer(kKeyA) + text, "and then?").status, 409);
    QCOMPARE(call(port, "POST", "/api/agent/" + id + "/cancel", bearer(kKeyB)).status, 404);
    QCOMPARE(call(port, "POST", "/api/agent/" + id + "/cancel", bearer(kKeyA)).status, 200);
}

void TestHardening::accessTokenForEventSource()
{
    HttpClient create;
    create.request(m_secure->port(), "POST", "/api/agent/create", bearer(kKeyA) + QList<QPair<QByteArray, QByteArray>>{{"Accept", "application/json"}}, "Trip to Lyon");
    QTRY_VERIFY_WITH_TIMEOUT(create.headersDone() && create.body().endsWith('\n'), 10000);
    const QByteArray id = create.header("x-conversation-id");
    HttpClient es;
    es.request(m_secure->port(), "GET", "/api/agent/stream/" + id + "?access_token=" + kKeyA, {{"Accept", "text/event-stream"}});
    QTRY_VERIFY_WITH_TIMEOUT(es.isFinished(), 20000);
    QCOMPARE(es.status(), 200);
    QCOMPARE(es.events().last().event, QByteArray("done"));
}

void TestHardening::rateLimit()
{
    Config config;
    config.createsPerMinute = 6; // one token every 10 s
    config.createBurst = 3;
    config.demoPaceMs = 1;
    auto backend = startBackend(config, m_redis.connectionString());
    QVERIFY(backend);
    int ok = 0, limited = 0;
    QByteArray retryAfter, body;
    for (int i = 0; i < 5; ++i) {
        const Reply r = call(backend->port(), "POST", "/api/agent/create", {{"Accept", "application/json"}, {"Content-Type", "text/plain"}}, "Trip to Nice");
        if (r.status == 202)
            ++ok;
        if (r.status == 429) {
            ++limited;
            retryAfter = r.retryAfter;
            body = r.body;
        }
    }
    QCOMPARE(ok, 3);
    QCOMPARE(limited, 2);
    QVERIFY(retryAfter.toInt() >= 1 && retryAfter.toInt() <= 10);
    QVERIFY(body.contains("try again in"));
}

void TestHardening::streamLimit()
{
    Config config;
    config.maxStreamsPerKey = 2;
    config.demoPaceMs = 200; // long runs: streams stay open
    auto backend = startBackend(config, m_redis.connectionString());
    QVERIFY(backend);
    HttpClient a, b;
    a.request(backend->port(), "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, "Trip to Bonn");
    b.request(backend->port(), "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, "Trip to Köln");
    QTRY_VERIFY_WITH_TIMEOUT(!a.events().isEmpty() && !b.events().isEmpty(), 10000);
    const Reply third = call(backend->port(), "GET", "/api/agent/stream/" + a.header("x-conversation-id"));
    QCOMPARE(third.status, 429);
    QVERIFY(!third.retryAfter.isEmpty());
    a.abort();
    QTRY_COMPARE_WITH_TIMEOUT(call(backend->port(), "GET", "/api/agent/" + a.header("x-conversation-id")).status, 200, 10000);
    HttpClient again;
    again.request(backend->port(), "GET", "/api/agent/stream/" + a.header("x-conversation-id"));
    QTRY_VERIFY_WITH_TIMEOUT(again.headersDone(), 10000);
    QCOMPARE(again.status(), 200); // a slot was freed when the first client left
}

void TestHardening::slowLorisIsClosed()
{
    Config config;
    config.requestTimeoutMs = 500;
    auto backend = startBackend(config, m_redis.connectionString());
    QVERIFY(backend);
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, backend->port());
    QVERIFY(socket.waitForConnected(5000));
    socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); // and never finishes
    QSignalSpy closed(&socket, &QTcpSocket::disconnected);
    QVERIFY(closed.wait(10000));
    QVERIFY(socket.readAll().startsWith("HTTP/1.1 408"));
}

void TestHardening::oversizedHeadersAndBody()
{
    HttpClient big;
    big.sendRaw(m_secure->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + QByteArray(64 * 1024, 'a') + "\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(big.isFinished(), 10000);
    QCOMPARE(big.status(), 431);
    // A declared body far over the limit is refused before it is sent.
    HttpClient body;
    body.sendRaw(m_secure->port(), "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000000000\r\n\r\nabc");
    QTRY_VERIFY_WITH_TIMEOUT(body.isFinished(), 10000);
    QCOMPARE(body.status(), 413);
}

namespace {
// name{labels} -> value of every sample of an exposition.
QHash<QByteArray, double> samples(const QByteArray &exposition)
{
    QHash<QByteArray, double> out;
    for (const QByteArray &line : exposition.split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const qsizetype space = line.lastIndexOf(' ');
        out.insert(line.left(space), line.mid(space + 1).toDouble());
    }
    return out;
}
} // namespace

void TestHardening::metricsRecordTheTrafficSent()
{
    // Every metric README tells operators to watch must move with the traffic that feeds it:
    // one run, read to its end, must be counted by each family below (the append latency
    // histogram was never recorded before: its _count stayed 0 after thousands of chunks).
    const quint16 port = m_secure->port();
    const auto before = samples(call(port, "GET", "/metrics", bearer(kKeyA)).body);
    HttpClient run;
    run.request(port, "POST", "/api/agent/create", bearer(kKeyA) + QList<QPair<QByteArray, QByteArray>>{{"Accept", "text/event-stream"}},
                "Plan a trip to Porto");
    QTRY_VERIFY_WITH_TIMEOUT(run.isFinished(), 20000);
    QCOMPARE(run.events().last().event, QByteArray("done"));
    const int events = int(run.events().size());
    QVERIFY(events > 10);
    const auto after = samples(call(port, "GET", "/metrics", bearer(kKeyA)).body);
    auto delta = [&](const char *name) { return after.value(name) - before.value(name); };
    QCOMPARE(delta("agentstreams_runs_started_total"), 1.0);
    QVERIFY2(delta("agentstreams_chunks_written_total") >= events, qPrintable(QString::number(delta("agentstreams_chunks_written_total"))));
    QVERIFY(delta("agentstreams_chunks_delivered_total") >= events);
    QVERIFY(delta("agentstreams_http_responses_total{code=\"200\"}") >= 2); // the stream and the first /metrics
    // At least one append call per run, at most one per entry; every call took some time.
    const double calls = delta("agentstreams_append_seconds_count");
    QVERIFY2(calls >= 1 && calls <= delta("agentstreams_chunks_written_total"), qPrintable(QString::number(calls)));
    QVERIFY(delta("agentstreams_append_seconds_sum") > 0);
    QCOMPARE(after.value("agentstreams_append_seconds_bucket{le=\"+Inf\"}"), after.value("agentstreams_append_seconds_count"));
    double previous = 0;
    for (double le : Metrics::kBuckets) {
        const double n = after.value("agentstreams_append_seconds_bucket{le=\"" + QByteArray::number(le, 'g', 6) + "\"}");
        QVERIFY(n >= previous); // cumulative
        previous = n;
    }
    QVERIFY(after.value("agentstreams_redis_connected") >= 1);
}

void TestHardening::metricsExposition()
{
    // Some traffic first, so that every family has samples.
    call(m_secure->port(), "GET", "/nope", bearer(kKeyA));
    const Reply r = call(m_secure->port(), "GET", "/metrics", bearer(kKeyA));
    QCOMPARE(r.status, 200);
    QVERIFY(r.contentType.startsWith("text/plain; version=0.0.4"));
    QCOMPARE(call(m_secure->port(), "GET", "/metrics").status, 401);
    // Prometheus text format 0.0.4, line by line.
    const QRegularExpression help(QStringLiteral("^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$"));
    const QRegularExpression type(QStringLiteral("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$"));
    const QRegularExpression sample(QStringLiteral(
        "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\\n]|\\\\[\\\\\"n])*\")(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\\n]|\\\\[\\\\\"n])*\")*\\})? "
        "(-?[0-9.eE+-]+|\\+Inf|-Inf|NaN)$"));
    QHash<QString, QString> types;
    QSet<QString> sampled;
    QVERIFY(r.body.endsWith('\n'));
    for (const QByteArray &raw : r.body.split('\n')) {
        if (raw.isEmpty())
            continue;
        const QString line = QString::fromUtf8(raw);
        if (auto m = help.match(line); m.hasMatch())
            continue;
        if (auto m = type.match(line); m.hasMatch()) {
            QVERIFY2(!types.contains(m.captured(1)), qPrintable(QStringLiteral("TYPE twice: ") + line));
            types.insert(m.captured(1), m.captured(2));
            continue;
        }
        const auto m = sample.match(line);
        QVERIFY2(m.hasMatch(), qPrintable(QStringLiteral("not an exposition line: ") + line));
        QString family = m.captured(1);
        for (const char *suffix : {"_bucket", "_sum", "_count"})
            if (!types.contains(family) && family.endsWith(QLatin1String(suffix)))
                family.chop(int(qstrlen(suffix)));
        QVERIFY2(types.contains(family), qPrintable(QStringLiteral("sample before its TYPE: ") + line));
        sampled.insert(family);
    }
    for (const char *name : {"agentstreams_active_runs", "agentstreams_open_streams", "agentstreams_chunks_written_total",
                             "agentstreams_chunks_delivered_total", "agentstreams_append_seconds", "agentstreams_redis_reconnects_total",
                             "agentstreams_http_responses_total"})
        QVERIFY2(sampled.contains(QString::fromLatin1(name)), name);
    QVERIFY(r.body.contains("agentstreams_http_responses_total{code=\"404\"}"));
    QVERIFY(r.body.contains("agentstreams_append_seconds_bucket{le=\"+Inf\"}"));
}

void TestHardening::outageReadersResumeAndReadyzFlips()
{
    if (RedisServer::clusterMode())
        QSKIP("restarts a whole Redis server; on a cluster, losing a primary is tst_clusterload's case");
    RedisServer redis;
    QVERIFY(redis.start(true));
    Config config;
    config.demoPaceMs = 15;
    config.readerGraceMs = 60000;
    config.keepAliveMs = 300;
    auto backend = startBackend(config, redis.connectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    std::vector<std::unique_ptr<HttpClient>> readers;
    QList<QByteArray> prompts;
    for (int i = 0; i < 4; ++i) {
        prompts << "Plan a " + QByteArray::number(3 + i) + "-day trip to Oslo";
        readers.push_back(std::make_unique<HttpClient>());
        readers.back()->request(port, "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, prompts.last());
    }
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(readers.begin(), readers.end(), [](const auto &r) { return r->events().size() > 10; }), 20000);
    QCOMPARE(call(port, "GET", "/readyz").status, 200);
    redis.kill();
    QTRY_COMPARE_WITH_TIMEOUT(call(port, "GET", "/readyz").status, 503, 10000);
    const Reply create = call(port, "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, "Trip to Bergen");
    QCOMPARE(create.status, 503);
    QVERIFY(!create.retryAfter.isEmpty());
    const int commentsBefore = readers.front()->comments();
    QTRY_VERIFY_WITH_TIMEOUT(readers.front()->comments() > commentsBefore, 5000); // kept alive meanwhile
    QVERIFY(!readers.front()->isFinished());
    QVERIFY(redis.restart());
    QTRY_COMPARE_WITH_TIMEOUT(call(port, "GET", "/readyz").status, 200, 15000);
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(readers.begin(), readers.end(), [](const auto &r) { return r->isFinished(); }), 60000);
    for (int i = 0; i < int(readers.size()); ++i) {
        const HttpClient &r = *readers.at(i);
        QCOMPARE(r.events().last().event, QByteArray("done"));
        QCOMPARE(r.messageText(), Itinerary::write(QString::fromUtf8(prompts.at(i))).toUtf8()); // nothing lost, nothing doubled
        HttpClient replay;
        replay.request(port, "GET", "/api/agent/stream/" + r.header("x-conversation-id"));
        QTRY_VERIFY_WITH_TIMEOUT(replay.isFinished(), 20000);
        QCOMPARE(replay.events().size(), r.events().size());
    }
}

void TestHardening::outageGracePeriodEndsReaders()
{
    if (RedisServer::clusterMode())
        QSKIP("restarts a whole Redis server; on a cluster, losing a primary is tst_clusterload's case");
    RedisServer redis;
    QVERIFY(redis.start(true));
    Config config;
    config.demoPaceMs = 30;
    config.readerGraceMs = 800;
    auto backend = startBackend(config, redis.connectionString());
    QVERIFY(backend);
    HttpClient reader;
    reader.request(backend->port(), "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, "Plan a 5-day trip to Riga");
    QTRY_VERIFY_WITH_TIMEOUT(reader.events().size() > 5, 20000);
    redis.kill();
    QTRY_VERIFY_WITH_TIMEOUT(reader.isFinished(), 10000);
    const auto last = reader.events().last();
    QCOMPARE(last.event, QByteArray("error"));
    QCOMPARE(QJsonDocument::fromJson(last.data).object().value(QStringLiteral("code")).toString(), QStringLiteral("unavailable"));
    // Its id is the last entry the reader got: resuming from it later loses nothing.
    QCOMPARE(last.id, reader.events().at(reader.events().size() - 2).id);
}

void TestHardening::cancelFromAnotherInstance()
{
    Config slow;
    slow.demoPaceMs = 100;
    auto owner = startBackend(slow, m_redis.connectionString());
    auto other = startBackend(slow, m_redis.connectionString());
    QVERIFY(owner && other);
    HttpClient follower;
    follower.request(owner->port(), "POST", "/api/agent/create", {{"Content-Type", "text/plain"}}, "Plan a 7-day trip to Seoul");
    QTRY_VERIFY_WITH_TIMEOUT(follower.events().size() > 3, 20000);
    const QByteArray id = follower.header("x-conversation-id");
    QVERIFY(owner->runs()->isRunning(id));
    const Reply r = call(other->port(), "POST", "/api/agent/" + id + "/cancel");
    QCOMPARE(r.status, 200);
    QCOMPARE(QJsonDocument::fromJson(r.body).object().value(QStringLiteral("cancelled")).toBool(), true);
    QTRY_VERIFY_WITH_TIMEOUT(follower.isFinished(), 10000);
    QVERIFY(follower.events().last().data.contains("cancelled"));
    QTRY_VERIFY_WITH_TIMEOUT(!owner->runs()->isRunning(id), 10000); // the owner stopped its agent
    const int count = follower.events().size();
    HttpClient replay;
    replay.request(other->port(), "GET", "/api/agent/stream/" + id);
    QTRY_VERIFY_WITH_TIMEOUT(replay.isFinished(), 10000);
    QCOMPARE(replay.events().size(), count); // nothing written after the cancel
    QCOMPARE(call(other->port(), "POST", "/api/agent/" + id + "/cancel").status, 200); // idempotent
}

void TestHardening::tlsWithSelfSignedCertificate()
{
    QTemporaryDir dir;
    const QString cert = dir.filePath(QStringLiteral("cert.pem")), key = dir.filePath(QStringLiteral("key.pem"));
    QProcess openssl;
    openssl.start(QStringLiteral("openssl"), {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("rsa:2048"),
                                              QStringLiteral("-nodes"), QStringLiteral("-keyout"), key, QStringLiteral("-out"), cert,
                                              QStringLiteral("-days"), QStringLiteral("1"), QStringLiteral("-subj"), QStringLiteral("/CN=localhost"),
                                              QStringLiteral("-addext"), QStringLiteral("subjectAltName=DNS:localhost,IP:127.0.0.1")});
    QVERIFY(openssl.waitForFinished(30000));
    QCOMPARE(openssl.exitCode(), 0);
    Config config;
    config.tlsCertificate = cert;
    config.tlsKey = key;
    config.demoPaceMs = 1;
    auto backend = startBackend(config, m_redis.connectionString());
    QVERIFY(backend);
    const QString url = QStringLiteral("https://localhost:%1").arg(backend->port());
    QProcess curl;
    curl.start(QStringLiteral("curl"), {QStringLiteral("-sS"), QStringLiteral("-N"), QStringLiteral("--cacert"), cert, QStringLiteral("-X"),
                                        QStringLiteral("POST"), url + QStringLiteral("/api/agent/create"), QStringLiteral("-H"),
                                        QStringLiteral("Content-Type: text/plain"), QStringLiteral("-d"), QStringLiteral("Plan a 2-day trip to Graz")});
    QVERIFY(QTest::qWaitFor([&] { return curl.state() == QProcess::NotRunning; }, 30000)); // the server shares this event loop
    const QByteArray out = curl.readAllStandardOutput();
    QVERIFY2(curl.exitCode() == 0, curl.readAllStandardError().constData());
    const auto events = HttpClient::parseSse(out);
    QVERIFY(events.size() > 10);
    QCOMPARE(events.last().event, QByteArray("done"));
    QByteArray text;
    for (const auto &e : events)
        if (e.event == "message")
            text += e.data;
    QCOMPARE(text, Itinerary::write(QStringLiteral("Plan a 2-day trip to Graz")).toUtf8());
    // Plain HTTP on the TLS port gets no answer.
    QProcess plain;
    plain.start(QStringLiteral("curl"), {QStringLiteral("-sS"), QStringLiteral("--max-time"), QStringLiteral("5"),
                                         QStringLiteral("http://localhost:%1/healthz").arg(backend->port())});
    QVERIFY(QTest::qWaitFor([&] { return plain.state() == QProcess::NotRunning; }, 15000));
    QVERIFY(plain.exitCode() != 0);
}

QTEST_GUILESS_MAIN(TestHardening)
#include "tst_hardening.moc"
