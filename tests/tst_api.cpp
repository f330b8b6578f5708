// End to end: the real HTTP server and a real redis-server, driven over real sockets.
#include "Backend.h"
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"
#include "agents/Agent.h"
#include "agents/Itinerary.h"
#include "http/stream/StreamResponse.h"
#include "runs/RunManager.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

namespace {
// An agent that says `first`, stays silent for `silenceMs` (longer than the TTL in the tests
// that use it), then says `second` and finishes.
class QuietAgent : public Agent
{
public:
    QuietAgent(int silenceMs, QObject *parent) : Agent(parent), m_silenceMs(silenceMs) {}
    void start(const AgentRequest &) override
    {
        QTimer::singleShot(0, this, [this] { Q_EMIT chunk(QStringLiteral("first\n")); });
        QTimer::singleShot(m_silenceMs, this, [this] {
            if (m_cancelled)
                return;
            Q_EMIT chunk(QStringLiteral("second\n"));
            Q_EMIT finished();
        });
    }
    void cancel() override { m_cancelled = true; }
    QString name() const override { return QStringLiteral("quiet"); }

private:
    int m_silenceMs;
    bool m_cancelled = false;
};
} // namespace

class TestApi : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void createStreamsSse();
    void createPlainText();
    void createJsonBody();
    void backgroundMode();
    void resumeWithCursor();
    void resumeWithLastEventId();
    void resumeAfterEnd();
    void resumeAtOrPastTheEndAnswersAtOnce();
    void cursorAheadOfARunningStream();
    void acceptedIdIsStoredFirst();
    void escapedPromptUnderTheLimitIsAccepted();
    void badInput_data();
    void badInput();
    void jsonErrors();
    void pipelinedRequestDoesNotCorruptStream();
    void cors();
    void cancel();
    void statusEndpoint();
    void readiness();
    void ttlAndRunningNeverExpires();
    void keepAlive();
    void silentClientGoneFreesItsStream();

private:
    std::unique_ptr<Backend> startBackend(Config config, AgentFactory factory = {});
    HttpClient *create(quint16 port, const QByteArray &prompt, const QByteArray &accept = "text/event-stream");
    // Full replay from the start, waits for the end.
    QList<HttpClient::Event> replay(quint16 port, const QByteArray &id, const QByteArray &cursor = {});
    static void checkOrdered(const QList<HttpClient::Event> &events);

    RedisServer m_redis;
    std::unique_ptr<Backend> m_backend;
    quint16 m_port = 0;
};

std::unique_ptr<Backend> TestApi::startBackend(Config config, AgentFactory factory)
{
    return startTestBackend(config, m_redis.connectionString(), factory);
}

void TestApi::initTestCase()
{
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    Config config;
    config.demoPaceMs = 2;
    config.maxPromptBytes = 4096;
    m_backend = startBackend(config);
    QVERIFY(m_backend);
    m_port = m_backend->port();
    QVERIFY(m_port != 0);
}

void TestApi::cleanupTestCase()
{
    m_backend.reset();
}

HttpClient *TestApi::create(quint16 port, const QByteArray &prompt, const QByteArray &accept)
{
    auto *c = new HttpClient(this);
    c->request(port, "POST", "/api/agent/create", {{"Content-Type", "text/plain"}, {"Accept", accept}}, prompt);
    return c;
}

QList<HttpClient::Event> TestApi::replay(quint16 port, const QByteArray &id, const QByteArray &cursor)
{
    HttpClient c;
    QByteArray target = "/api/agent/stream/" + id;
    if (!cursor.isEmpty())
        target += "?cursor=" + cursor;
    c.request(port, "GET", target, {{"Accept", "text/event-stream"}});
    if (!QTest::qWaitFor([&] { return c.isFinished(); }, 30000))
        qWarning() << "replay did not end";
    return c.events();
}

void TestApi::checkOrdered(const QList<HttpClient::Event> &events)
{
    EntryId last;
    for (const auto &e : events) {
        const auto id = EntryId::parse(e.id);
        QVERIFY2(id, e.id.constData());
        QVERIFY2(last < *id, "ids must strictly increase: no duplicate, no reordering");
        last = *id;
    }
}

void TestApi::createStreamsSse()
{
    const QByteArray prompt = "Plan a 3-day trip to Kyoto, Japan.";
    HttpClient *c = create(m_port, prompt);
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 30000);
    QCOMPARE(c->status(), 200);
    QCOMPARE(c->header("Content-Type"), QByteArray("text/event-stream"));
    QCOMPARE(c->header("Cache-Control"), QByteArray("no-cache"));
    const QByteArray id = c->header("x-conversation-id");
    QVERIFY2(id.startsWith("@dafx-travelplanner@") && id.size() == 52, id.constData());
    QCOMPARE(c->retryMs(), 3000);
    const auto events = c->events();
    QVERIFY(events.size() > 100); // hundreds of chunks
    QCOMPARE(events.first().event, QByteArray("turn"));
    QCOMPARE(events.last().event, QByteArray("done"));
    QCOMPARE(events.last().data, QByteArray("[DONE]"));
    checkOrdered(events);
    // Every byte of the agent's markdown arrives, blank lines included (one data: per line).
    QCOMPARE(c->messageText(), Itinerary::write(QString::fromUtf8(prompt)).toUtf8());
    QVERIFY(c->body().contains("data: \n")); // an empty line of markdown is its own data: line
    // A later GET replays the same events.
    const auto again = replay(m_port, id);
    QCOMPARE(again.size(), events.size());
    for (int i = 0; i < events.size(); ++i) {
        QCOMPARE(again.at(i).id, events.at(i).id);
        QCOMPARE(again.at(i).data, events.at(i).data);
    }
}

void TestApi::createPlainText()
{
    const QByteArray prompt = "Plan a 2-day trip to Oslo.";
    HttpClient *c = create(m_port, prompt, "text/plain");
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 30000);
    QCOMPARE(c->status(), 200);
    QCOMPARE(c->header("Content-Type"), QByteArray("text/plain; charset=utf-8"));
    QVERIFY(!c->header("x-conversation-id").isEmpty());
    QCOMPARE(c->body(), Itinerary::write(QString::fromUtf8(prompt)).toUtf8());
}

void TestApi::createJsonBody()
{
    HttpClient c;
    c.request(m_port, "POST", "/api/agent/create", {{"Content-Type", "application/json"}, {"Accept", "text/plain"}},
              R"({"prompt": "A weekend in Rome"})");
    QTRY_VERIFY_WITH_TIMEOUT(c.isFinished(), 30000);
    QCOMPARE(c.status(), 200);
    QVERIFY(c.body().contains("2-Day Trip to Rome"));
}

void TestApi::backgroundMode()
{
    HttpClient c;
    c.request(m_port, "POST", "/api/agent/create", {{"Content-Type", "text/plain"}, {"Accept", "application/json"}}, "Plan a trip to Porto");
    QTRY_VERIFY_WITH_TIMEOUT(c.isFinished() || (c.headersDone() && c.body().endsWith('\n')), 10000);
    QCOMPARE(c.status(), 202);
    const QJsonObject o = QJsonDocument::fromJson(c.body()).object();
    const QByteArray id = o.value(QStringLiteral("id")).toString().toUtf8();
    QCOMPARE(c.header("x-conversation-id"), id);
    QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("in_progress"));
    QCOMPARE(o.value(QStringLiteral("stream_url")).toString(), QStringLiteral("/api/agent/stream/") + QString::fromUtf8(id));
    // The run went on without a reader: the stream has all of it.
    const auto events = replay(m_port, id);
    QCOMPARE(events.last().event, QByteArray("done"));
}

void TestApi::resumeWithCursor()
{
    Config config;
    config.demoPaceMs = 8;
    auto backend = startBackend(config);
    QVERIFY(backend);
    const quint16 port = backend->port();
    for (int k : {1, 7, 40}) {
        HttpClient *first = create(port, "Plan a 4-day trip to Lisbon");
        QTRY_VERIFY_WITH_TIMEOUT(first->events().size() >= k, 20000);
        first->abort(); // the network drops
        const QByteArray id = first->header("x-conversation-id");
        const QByteArray cursor = first->events().at(k - 1).id;
        const QList<HttpClient::Event> before = first->events().mid(0, k);

        HttpClient second;
        second.request(port, "GET", "/api/agent/stream/" + id + "?cursor=" + cursor, {{"Accept", "text/event-stream"}});
        QTRY_VERIFY_WITH_TIMEOUT(second.isFinished(), 30000);
        QCOMPARE(second.status(), 200);
        QList<HttpClient::Event> joined = before + second.events();
        checkOrdered(joined);
        const auto full = replay(port, id);
        QCOMPARE(joined.size(), full.size());
        QByteArray joinedText, fullText;
        for (int i = 0; i < full.size(); ++i) {
            QCOMPARE(joined.at(i).id, full.at(i).id);
            joinedText += joined.at(i).data;
            fullText += full.at(i).data;
        }
        QCOMPARE(joinedText, fullText);
        QCOMPARE(full.last().event, QByteArray("done"));
    }
}

void TestApi::resumeWithLastEventId()
{
    Config config;
    config.demoPaceMs = 8;
    auto backend = startBackend(config);
    QVERIFY(backend);
    const quint16 port = backend->port();
    HttpClient *first = create(port, "Plan a 3-day trip to Paris");
    QTRY_VERIFY_WITH_TIMEOUT(first->events().size() >= 12, 20000);
    first->abort();
    const QByteArray id = first->header("x-conversation-id");
    const QList<HttpClient::Event> before = first->events().mid(0, 12);
    // EventSource reconnects to the same URL (here with a stale ?cursor) plus Last-Event-ID:
    // the header wins.
    HttpClient second;
    second.request(port, "GET", "/api/agent/stream/" + QByteArray(id).replace("@", "%40") + "?cursor=0",
                   {{"Accept", "text/event-stream"}, {"Last-Event-ID", before.last().id}});
    QTRY_VERIFY_WITH_TIMEOUT(second.isFinished(), 30000);
    QCOMPARE(second.status(), 200);
    QVERIFY(!second.events().isEmpty());
    QVERIFY(EntryId::parse(before.last().id).value() < EntryId::parse(second.events().first().id).value());
    const auto joined = before + second.events();
    checkOrdered(joined);
    const auto full = replay(port, id);
    QCOMPARE(joined.size(), full.size());
    for (int i = 0; i < full.size(); ++i)
        QCOMPARE(joined.at(i).data, full.at(i).data);
}

void TestApi::resumeAfterEnd()
{
    HttpClient *c = create(m_port, "Plan a 2-day trip to Bergen");
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 30000);
    const QByteArray id = c->header("x-conversation-id");
    const auto events = c->events();
    // From the middle: the rest, then the response closes at once.
    const auto rest = replay(m_port, id, events.at(events.size() / 2).id);
    QCOMPARE(rest.size(), events.size() - events.size() / 2 - 1);
    QCOMPARE(rest.last().event, QByteArray("done"));
    // From the terminal event itself: nothing more, closed at once.
    HttpClient after;
    after.request(m_port, "GET", "/api/agent/stream/" + id + "?cursor=" + events.last().id, {{"Accept", "text/plain"}});
    QTRY_VERIFY_WITH_TIMEOUT(after.isFinished(), 5000);
    QCOMPARE(after.status(), 200);
    QCOMPARE(after.body(), QByteArray());
}

void TestApi::resumeAtOrPastTheEndAnswersAtOnce()
{
    // A finished conversation and a cursor at or past its terminal entry: nothing will come,
    // so the answer is immediate. SSE gets 204 No Content, which makes an EventSource stop
    // reconnecting (before: an empty 200, and a browser came back every 3 s forever; a
    // cursor past the end got keep-alives forever, even after the conversation expired).
    HttpClient *c = create(m_port, "Plan a 2-day trip to Tromso");
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 30000);
    const QByteArray id = c->header("x-conversation-id");
    const QByteArray terminal = c->events().last().id;
    QCOMPARE(c->events().last().event, QByteArray("done"));
    struct Case
    {
        QByteArray accept;
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray query;
        int status;
    };
    const QList<Case> cases{
        {"text/event-stream", {{"Last-Event-ID", terminal}}, {}, 204}, // EventSource's reconnect
        {"text/event-stream", {}, "?cursor=" + terminal, 204},
        {"text/event-stream", {}, "?cursor=99999999999999-0", 204},
        {"text/event-stream", {}, "?cursor=18446744073709551615-18446744073709551615", 204},
        {"text/plain", {}, "?cursor=99999999999999-0", 200},
    };
    for (const Case &k : cases) {
        HttpClient r;
        r.request(m_port, "GET", "/api/agent/stream/" + id + k.query, k.headers + QList<QPair<QByteArray, QByteArray>>{{"Accept", k.accept}});
        QTRY_VERIFY_WITH_TIMEOUT(r.isFinished() || (r.headersDone() && r.status() == 204), 5000);
        QCOMPARE(r.status(), k.status);
        QCOMPARE(r.header("x-conversation-id"), id);
        QVERIFY(r.events().isEmpty());
        if (k.status == 204)
            QVERIFY2(r.header("Content-Length").isEmpty(), "a 204 has no Content-Length");
    }
    // A cursor before the end still streams the rest, head first as before.
    const auto rest = replay(m_port, id, c->events().at(c->events().size() - 2).id);
    QCOMPARE(rest.size(), 1);
    QCOMPARE(rest.last().event, QByteArray("done"));
}

void TestApi::cursorAheadOfARunningStream()
{
    // On a running conversation a cursor beyond the newest stored entry names an entry that
    // does not exist: 400, instead of a stream that never delivers anything.
    Config config;
    auto backend = startBackend(config, [](const AgentRequest &, QObject *parent) { return new QuietAgent(20000, parent); });
    QVERIFY(backend);
    const quint16 port = backend->port();
    HttpClient *c = create(port, "quiet please");
    QTRY_VERIFY_WITH_TIMEOUT(!c->events().isEmpty() && c->messageText() == "first\n", 10000);
    const QByteArray id = c->header("x-conversation-id");
    HttpClient ahead;
    ahead.request(port, "GET", "/api/agent/stream/" + id + "?cursor=99999999999999-0", {{"Accept", "application/json, text/event-stream"}});
    QTRY_VERIFY_WITH_TIMEOUT(ahead.isFinished() || (ahead.headersDone() && ahead.body().endsWith('\n')), 5000);
    QCOMPARE(ahead.status(), 400);
    QVERIFY2(ahead.body().contains("ahead of the stream"), ahead.body().constData());
    // At the newest entry it follows live as usual.
    HttpClient atHead;
    atHead.request(port, "GET", "/api/agent/stream/" + id + "?cursor=" + c->lastEventId(), {{"Accept", "text/event-stream"}});
    QTRY_VERIFY_WITH_TIMEOUT(atHead.headersDone(), 5000);
    QCOMPARE(atHead.status(), 200);
    HttpClient cancel;
    cancel.request(port, "POST", "/api/agent/" + id + "/cancel", {{"Content-Length", "0"}});
    QTRY_VERIFY_WITH_TIMEOUT(atHead.isFinished(), 10000);
    QCOMPARE(atHead.events().last().event, QByteArray("error"));
}

void TestApi::acceptedIdIsStoredFirst()
{
    // 202 hands out an id that a client may open at once on ANOTHER instance, which knows only
    // what Redis holds. Redis pauses writes for a moment: the 202 must wait for the first
    // entry to be stored (before, it came at once and instance B answered 404).
    Config config;
    auto other = startBackend(config);
    QVERIFY(other);
    QCOMPARE(m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("PAUSE"), QStringLiteral("700"), QStringLiteral("WRITE")}).trimmed(),
             QByteArray("OK"));
    HttpClient *c = create(m_port, "Plan a trip to Turku", "application/json");
    QTRY_VERIFY_WITH_TIMEOUT(c->headersDone() && c->body().endsWith('\n'), 10000);
    QCOMPARE(c->status(), 202);
    const QByteArray id = c->header("x-conversation-id");
    HttpClient status; // HGETALL: a read, served during the pause
    status.request(other->port(), "GET", "/api/agent/" + id);
    QTRY_VERIFY_WITH_TIMEOUT(status.headersDone() && status.body().endsWith('\n'), 10000);
    QCOMPARE(status.status(), 200);
    const auto events = replay(other->port(), id);
    QVERIFY(!events.isEmpty());
    QCOMPARE(events.last().event, QByteArray("done"));
}

void TestApi::escapedPromptUnderTheLimitIsAccepted()
{
    // A 60,000-character prompt sent as \u0041 escapes is a 360 KB body: the body limit is 6x
    // the prompt limit (JSON's worst case), and the decoded prompt is what --max-prompt-bytes
    // limits (before, the body limit was the prompt limit + 64 KiB, and this got 413).
    Config config; // default --max-prompt-bytes 65536
    auto backend = startBackend(config);
    QVERIFY(backend);
    QByteArray body = "{\"prompt\": \"";
    for (int i = 0; i < 60000; ++i)
        body += "\\u0041";
    body += "\"}";
    QVERIFY(body.size() > 360000);
    HttpClient ok;
    ok.request(backend->port(), "POST", "/api/agent/create", {{"Content-Type", "application/json"}, {"Accept", "application/json"}}, body);
    QTRY_VERIFY_WITH_TIMEOUT(ok.headersDone() && ok.body().endsWith('\n'), 10000);
    QCOMPARE(ok.status(), 202);
    // A decoded prompt over the limit is still refused, with the prompt's size in the message.
    QByteArray big = "{\"prompt\": \"" + QByteArray(70000, 'a') + "\"}";
    HttpClient tooBig;
    tooBig.request(backend->port(), "POST", "/api/agent/create", {{"Content-Type", "application/json"}}, big);
    QTRY_VERIFY_WITH_TIMEOUT(tooBig.headersDone() && tooBig.body().endsWith('\n'), 10000);
    QCOMPARE(tooBig.status(), 413);
    QVERIFY2(tooBig.body().contains("70000 bytes"), tooBig.body().constData());
}

void TestApi::badInput_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QByteArray>("accept");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("message");
    const QByteArray unknown = "/api/agent/stream/@dafx-travelplanner@00000000000000000000000000000000";
    QTest::newRow("empty prompt") << QByteArray("POST") << QByteArray("/api/agent/create") << QByteArray("text/plain") << QByteArray() << QByteArray("   \n") << 400 << QByteArray("empty");
    QTest::newRow("prompt too large") << QByteArray("POST") << QByteArray("/api/agent/create") << QByteArray("text/plain") << QByteArray() << QByteArray(5000, 'a') << 413 << QByteArray("limit");
    QTest::newRow("unsupported type") << QByteArray("POST") << QByteArray("/api/agent/create") << QByteArray("image/png") << QByteArray() << QByteArray("x") << 415 << QByteArray("text/plain");
    QTest::newRow("bad json") << QByteArray("POST") << QByteArray("/api/agent/create") << QByteArray("application/json") << QByteArray() << QByteArray("{prompt") << 400 << QByteArray("JSON");
    QTest::newRow("json without prompt") << QByteArray("POST") << QByteArray("/api/agent/create") << QByteArray("application/json") << QByteArray() << QByteArray("{\"q\":1}") << 400 << QByteArray("prompt");
    QTest::newRow("invalid utf-8") << QByteArray("POST") << QByteArray("/api/agent/create") << QByteArray("text/plain") << QByteArray() << QByteArray("caf\xe9") << 400 << QByteArray("UTF-8");
    QTest::newRow("not acceptable") << QByteArray("POST") << QByteArray("/api/agent/create") << QByteArray("text/plain") << QByteArray("image/png") << QByteArray("hi") << 406 << QByteArray("text/event-stream");
    QTest::newRow("GET on create") << QByteArray("GET") << QByteArray("/api/agent/create") << QByteArray() << QByteArray() << QByteArray() << 405 << QByteArray("POST");
    QTest::newRow("malformed cursor") << QByteArray("GET") << unknown + "?cursor=abc" << QByteArray() << QByteArray() << QByteArray() << 400 << QByteArray("cursor");
    QTest::newRow("unknown conversation") << QByteArray("GET") << unknown << QByteArray() << QByteArray() << QByteArray() << 404 << QByteArray("does not exist");
    QTest::newRow("not an id") << QByteArray("GET") << QByteArray("/api/agent/stream/hello") << QByteArray() << QByteArray() << QByteArray() << 404 << QByteArray("not a conversation id");
    QTest::newRow("slash in id") << QByteArray("GET") << QByteArray("/api/agent/stream/a%2Fb") << QByteArray() << QByteArray() << QByteArray() << 404 << QByteArray("not a conversation id");
    QTest::newRow("unknown path") << QByteArray("GET") << QByteArray("/nope") << QByteArray() << QByteArray() << QByteArray() << 404 << QByteArray("no such endpoint");
}

void TestApi::badInput()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, target);
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, accept);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QByteArray, message);
    const QByteArray keysBefore = m_redis.cli({QStringLiteral("DBSIZE")});
    HttpClient c;
    QList<QPair<QByteArray, QByteArray>> headers;
    if (!contentType.isEmpty())
        headers.emplace_back("Content-Type", contentType);
    if (!accept.isEmpty())
        headers.emplace_back("Accept", accept);
    if (method == "POST" && body.isEmpty())
        headers.emplace_back("Content-Length", "0");
    c.request(m_port, method, target, headers, body);
    QTRY_VERIFY_WITH_TIMEOUT(c.headersDone() && c.body().size() >= c.header("Content-Length").toInt(), 10000);
    QCOMPARE(c.status(), status);
    QVERIFY2(c.body().contains(message), c.body().constData());
    QCOMPARE(c.body().count('\n'), 1); // one line a person can act on
    QCOMPARE(m_redis.cli({QStringLiteral("DBSIZE")}), keysBefore); // nothing stored, nothing lost
}

void TestApi::jsonErrors()
{
    HttpClient c;
    c.request(m_port, "GET", "/api/agent/stream/@dafx-travelplanner@00000000000000000000000000000000?cursor=x",
              {{"Accept", "application/json"}});
    QTRY_VERIFY_WITH_TIMEOUT(c.headersDone() && c.body().endsWith('\n'), 10000);
    QCOMPARE(c.status(), 400);
    QCOMPARE(c.header("Content-Type"), QByteArray("application/json"));
    const QJsonObject error = QJsonDocument::fromJson(c.body()).object().value(QStringLiteral("error")).toObject();
    QCOMPARE(error.value(QStringLiteral("code")).toString(), QStringLiteral("invalid_cursor"));
    QVERIFY(error.value(QStringLiteral("message")).toString().contains(QStringLiteral("cursor")));
}

void TestApi::pipelinedRequestDoesNotCorruptStream()
{
    const QByteArray prompt = "Plan a 2-day trip to Vienna";
    QByteArray raw = "POST /api/agent/create HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: "
        + QByteArray::number(prompt.size()) + "\r\n\r\n" + prompt;
    raw += "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    HttpClient c;
    c.sendRaw(m_port, raw);
    QTRY_VERIFY_WITH_TIMEOUT(c.isFinished(), 30000);
    QCOMPARE(c.status(), 200);
    QCOMPARE(c.raw().count("HTTP/1.1"), 1); // no second response mixed into the stream
    QCOMPARE(c.events().last().event, QByteArray("done"));
    QCOMPARE(c.messageText(), Itinerary::write(QString::fromUtf8(prompt)).toUtf8());
}

void TestApi::cors()
{
    HttpClient preflight;
    preflight.request(m_port, "OPTIONS", "/api/agent/create",
                      {{"Origin", "http://example.test"}, {"Access-Control-Request-Method", "POST"},
                       {"Access-Control-Request-Headers", "content-type"}});
    QTRY_VERIFY_WITH_TIMEOUT(preflight.headersDone(), 10000);
    QCOMPARE(preflight.status(), 204);
    QCOMPARE(preflight.header("Access-Control-Allow-Origin"), QByteArray("*"));
    QVERIFY(preflight.header("Access-Control-Allow-Methods").contains("POST"));
    QVERIFY(preflight.header("Access-Control-Allow-Headers").contains("Last-Event-ID"));

    HttpClient *c = new HttpClient(this);
    c->request(m_port, "POST", "/api/agent/create", {{"Content-Type", "text/plain"}, {"Origin", "http://example.test"}}, "Trip to Nice");
    QTRY_VERIFY_WITH_TIMEOUT(c->headersDone(), 10000);
    QCOMPARE(c->header("Access-Control-Allow-Origin"), QByteArray("*"));
    QVERIFY(c->header("Access-Control-Expose-Headers").contains("x-conversation-id"));
    c->abort();

    Config config;
    config.allowedOrigins = {QStringLiteral("http://good.test")};
    auto backend = startBackend(config);
    QVERIFY(backend);
    HttpClient bad;
    bad.request(backend->port(), "OPTIONS", "/api/agent/create", {{"Origin", "http://evil.test"}});
    QTRY_VERIFY_WITH_TIMEOUT(bad.headersDone(), 10000);
    QCOMPARE(bad.status(), 403);
    QVERIFY(bad.header("Access-Control-Allow-Origin").isEmpty());
    HttpClient good;
    good.request(backend->port(), "OPTIONS", "/api/agent/create", {{"Origin", "http://good.test"}});
    QTRY_VERIFY_WITH_TIMEOUT(good.headersDone(), 10000);
    QCOMPARE(good.status(), 204);
    QCOMPARE(good.header("Access-Control-Allow-Origin"), QByteArray("http://good.test"));
}

void TestApi::cancel()
{
    Config config;
    config.demoPaceMs = 50;
    auto backend = startBackend(config);
    QVERIFY(backend);
    HttpClient *c = create(backend->port(), "Plan a 7-day trip to Tokyo");
    QTRY_VERIFY_WITH_TIMEOUT(c->events().size() >= 3, 20000);
    const QByteArray id = c->header("x-conversation-id");
    for (int i = 0; i < 2; ++i) { // idempotent
        HttpClient cancel;
        cancel.request(backend->port(), "POST", "/api/agent/" + id + "/cancel", {{"Content-Length", "0"}});
        QTRY_VERIFY_WITH_TIMEOUT(cancel.headersDone() && cancel.body().endsWith('\n'), 10000);
        QCOMPARE(cancel.status(), 200);
        QCOMPARE(QJsonDocument::fromJson(cancel.body()).object().value(QStringLiteral("status")).toString(), QStringLiteral("cancelled"));
    }
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 10000);
    const auto last = c->events().last();
    QCOMPARE(last.event, QByteArray("error"));
    QCOMPARE(QJsonDocument::fromJson(last.data).object().value(QStringLiteral("code")).toString(), QStringLiteral("cancelled"));
    QCOMPARE(replay(backend->port(), id).size(), c->events().size());
}

void TestApi::statusEndpoint()
{
    HttpClient *c = create(m_port, "Plan a 2-day trip to Bern");
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 30000);
    const QByteArray id = c->header("x-conversation-id");
    HttpClient s;
    s.request(m_port, "GET", "/api/agent/" + id);
    QTRY_VERIFY_WITH_TIMEOUT(s.headersDone() && s.body().endsWith('\n'), 10000);
    QCOMPARE(s.status(), 200);
    const QJsonObject o = QJsonDocument::fromJson(s.body()).object();
    QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("completed"));
    QVERIFY(o.value(QStringLiteral("finished_at")).toDouble() >= o.value(QStringLiteral("created_at")).toDouble());
}

void TestApi::readiness()
{
    HttpClient h;
    h.request(m_port, "GET", "/readyz");
    QTRY_VERIFY_WITH_TIMEOUT(h.headersDone() && h.body().endsWith('\n'), 10000);
    QCOMPARE(h.status(), 200);
}

void TestApi::ttlAndRunningNeverExpires()
{
    Config config;
    config.ttlMs = 1500;
    // The agent is silent for longer than twice the TTL mid-run: the heartbeat keeps it alive.
    auto backend = startBackend(config, [](const AgentRequest &, QObject *parent) { return new QuietAgent(4000, parent); });
    QVERIFY(backend);
    const quint16 port = backend->port();
    HttpClient *c = create(port, "quiet please");
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 20000);
    QCOMPARE(c->events().last().event, QByteArray("done"));
    QCOMPARE(c->messageText(), QByteArray("first\nsecond\n"));
    const QByteArray id = c->header("x-conversation-id");
    // Finished: it expires TTL after its last activity, then the API says 404.
    QVERIFY(m_redis.cli({QStringLiteral("PTTL"), QString::fromUtf8("agent-stream:{" + id + "}")}).toInt() > 0);
    QTRY_VERIFY_WITH_TIMEOUT(m_redis.cli({QStringLiteral("EXISTS"), QString::fromUtf8("agent-stream:{" + id + "}")}) == "0", 10000);
    HttpClient gone;
    gone.request(port, "GET", "/api/agent/stream/" + id);
    QTRY_VERIFY_WITH_TIMEOUT(gone.headersDone() && gone.body().endsWith('\n'), 10000);
    QCOMPARE(gone.status(), 404);
    QVERIFY(gone.body().contains("expired"));
}

void TestApi::keepAlive()
{
    Config config;
    config.keepAliveMs = 200;
    auto backend = startBackend(config, [](const AgentRequest &, QObject *parent) { return new QuietAgent(1500, parent); });
    QVERIFY(backend);
    HttpClient *c = create(backend->port(), "quiet");
    QTRY_VERIFY_WITH_TIMEOUT(c->isFinished(), 20000);
    QVERIFY2(c->comments() >= 2, "a silent run must still send keep-alive comments");
    QVERIFY(c->body().contains(": keep-alive\n\n"));
    QCOMPARE(c->events().last().event, QByteArray("done"));
}

void TestApi::silentClientGoneFreesItsStream()
{
    // Streaming sockets are not polled for reading: a client that leaves a silent stream (no
    // event, no keep-alive due) is found by the shared tick's probe, not by a write.
    Config config;
    config.keepAliveMs = 60000;
    auto backend = startBackend(config, [](const AgentRequest &, QObject *parent) { return new QuietAgent(60000, parent); });
    QVERIFY(backend);
    const int before = StreamResponse::openCount();
    HttpClient *c = create(backend->port(), "quiet");
    QTRY_VERIFY_WITH_TIMEOUT(!c->events().isEmpty(), 10000);
    QCOMPARE(StreamResponse::openCount(), before + 1);
    c->abort();
    QTRY_COMPARE_WITH_TIMEOUT(StreamResponse::openCount(), before, 5000);
}

QTEST_GUILESS_MAIN(TestApi)
#include "tst_api.moc"
