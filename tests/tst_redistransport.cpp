// The Redis transport against real servers: TLS (right CA, wrong CA, wrong host name, a
// plaintext server on the TLS port, mutual TLS), command timeouts on a frozen Redis, a server
// that sends garbage, and the app end to end on a TLS Redis.
#include "Backend.h"
#include "HttpClient.h"
#include "RedisServer.h"
#include "TestBackend.h"
#include "TestCertificates.h"
#include "redis/RedisConnection.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <csignal>
#include <memory>
#include <vector>

Q_DECLARE_METATYPE(RedisError)

namespace {
RedisConfig parsed(const QString &text)
{
    QString error;
    const auto cfg = RedisConfig::parse(text, &error);
    if (!cfg)
        qWarning() << "cannot parse" << text << error;
    return cfg.value_or(RedisConfig{});
}

// The first error a connection reports while it tries to connect.
RedisError firstFailure(RedisConnection &c)
{
    QSignalSpy lost(&c, &RedisConnection::disconnected);
    c.open();
    if (!lost.wait(10000))
        return {};
    return lost.first().first().value<RedisError>();
}

bool openAndWait(RedisConnection &c)
{
    QSignalSpy connected(&c, &RedisConnection::connected);
    c.open();
    return c.isConnected() || connected.wait(10000);
}

// PING through the connection; the reply text or the error message.
QString ping(RedisConnection &c)
{
    QString out;
    bool done = false;
    c.command({"PING"}, [&](const RedisReply &r, const RedisError &e) {
        out = e.isError() ? e.message : QString::fromUtf8(r.str);
        done = true;
    });
    if (!QTest::qWaitFor([&] { return done; }, 15000))
        return QStringLiteral("no answer");
    return out;
}
} // namespace

class TestRedisTransport : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void tlsWithTheRightCa();
    void tlsWrongCaIsAClearError();
    void tlsWrongHostNameIsAClearError();
    void tlsToAPlaintextServerIsAClearError();
    void mutualTls();
    void appStreamsOverTls();
    void frozenRedisTimesOutAndRecovers();
    void runsStreamThroughAFrozenRedis();
    void garbageFromTheServerDropsTheConnection();
    void entraIdTokensFromTheAzureCli();

private:
    TestCertificates m_certs;
    RedisServer m_tls;
};

void TestRedisTransport::initTestCase()
{
    qRegisterMetaType<RedisError>();
    QVERIFY2(m_certs.make(), qPrintable(m_certs.error()));
    QVERIFY2(m_tls.startTls({m_certs.ca(), m_certs.serverCert(), m_certs.serverKey(), false, {}, {}}), qPrintable(m_tls.error()));
    QCOMPARE(m_tls.cli({QStringLiteral("PING")}), QByteArray("PONG"));
}

void TestRedisTransport::tlsWithTheRightCa()
{
    for (const QString &text : {m_tls.tlsConnectionString(), QStringLiteral("localhost:%1,ssl=True,abortConnect=False").arg(m_tls.port()),
                                QStringLiteral("127.0.0.1:%1,ssl=true,sslHost=localhost").arg(m_tls.port())}) {
        RedisConfig cfg = parsed(text);
        QVERIFY2(cfg.tls, qPrintable(text));
        cfg.tlsCaFile = m_certs.ca();
        RedisConnection c(cfg, QStringLiteral("tls"));
        QVERIFY2(openAndWait(c), qPrintable(text + QStringLiteral(": ") + c.lastError().message));
        QCOMPARE(ping(c), QStringLiteral("PONG"));
    }
}

void TestRedisTransport::tlsWrongCaIsAClearError()
{
    RedisConfig cfg = parsed(m_tls.tlsConnectionString());
    cfg.tlsCaFile = m_certs.otherCa();
    RedisConnection c(cfg, QStringLiteral("tls"));
    const RedisError error = firstFailure(c);
    qInfo("wrong CA: %s", qPrintable(error.message));
    QVERIFY2(error.message.contains(QStringLiteral("localhost:%1").arg(m_tls.port())), qPrintable(error.message));
    QVERIFY2(error.message.contains(QLatin1String("certificate")), qPrintable(error.message));
    QVERIFY2(!error.message.contains(QLatin1Char('\n')), "one line");
    QVERIFY(!c.isConnected());
    // It keeps trying (with backoff), like for a Redis that is down.
    QSignalSpy again(&c, &RedisConnection::disconnected);
    QVERIFY(again.wait(5000));
}

void TestRedisTransport::tlsWrongHostNameIsAClearError()
{
    RedisConfig cfg = parsed(QStringLiteral("127.0.0.1:%1,ssl=True,sslHost=redis.example.com").arg(m_tls.port()));
    cfg.tlsCaFile = m_certs.ca();
    RedisConnection c(cfg, QStringLiteral("tls"));
    const RedisError error = firstFailure(c);
    qInfo("wrong host name: %s", qPrintable(error.message));
    QVERIFY2(error.message.contains(QLatin1String("host name")), qPrintable(error.message));
    QVERIFY2(error.message.contains(QStringLiteral("127.0.0.1:%1").arg(m_tls.port())), qPrintable(error.message));
}

void TestRedisTransport::tlsToAPlaintextServerIsAClearError()
{
    RedisServer plain;
    QVERIFY2(plain.start(), qPrintable(plain.error()));
    RedisConfig cfg = parsed(QStringLiteral("rediss://localhost:%1").arg(plain.port()));
    cfg.tlsCaFile = m_certs.ca();
    cfg.connectTimeoutMs = 1000; // Redis waits for the end of a line that a ClientHello never sends
    RedisConnection c(cfg, QStringLiteral("tls"));
    const RedisError error = firstFailure(c);
    qInfo("plaintext server: %s", qPrintable(error.message));
    QVERIFY2(error.message.contains(QLatin1String("TLS handshake")), qPrintable(error.message));
    QVERIFY2(error.message.contains(QLatin1String("TLS port")), qPrintable(error.message));
}

void TestRedisTransport::mutualTls()
{
    RedisServer strict;
    QVERIFY2(strict.startTls({m_certs.ca(), m_certs.serverCert(), m_certs.serverKey(), true, m_certs.clientCert(), m_certs.clientKey()}),
             qPrintable(strict.error()));
    RedisConfig cfg = parsed(strict.tlsConnectionString());
    cfg.tlsCaFile = m_certs.ca();
    {
        RedisConnection anonymous(cfg, QStringLiteral("no-cert"));
        const RedisError error = firstFailure(anonymous);
        QVERIFY2(error.isError(), "a server that wants a client certificate refuses one without");
    }
    cfg.tlsCertFile = m_certs.clientCert();
    cfg.tlsKeyFile = m_certs.clientKey();
    RedisConnection c(cfg, QStringLiteral("mtls"));
    QVERIFY2(openAndWait(c), qPrintable(c.lastError().message));
    QCOMPARE(ping(c), QStringLiteral("PONG"));
}

void TestRedisTransport::appStreamsOverTls()
{
    // The whole app on a TLS Redis: a run streams to its end, and a resume from the middle
    // equals the rest of a full replay.
    Config config;
    config.demoPaceMs = 1;
    config.redisCaFile = m_certs.ca();
    auto backend = startTestBackend(config, m_tls.tlsConnectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    HttpClient run;
    run.request(port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}, {"Content-Type", "text/plain"}}, "Plan a trip to Bergen");
    QTRY_VERIFY_WITH_TIMEOUT(run.isFinished(), 30000);
    const auto events = run.events();
    QVERIFY(events.size() > 10);
    QCOMPARE(events.last().event, QByteArray("done"));
    const QByteArray id = run.header("x-conversation-id");
    HttpClient resume;
    resume.request(port, "GET", "/api/agent/stream/" + id + "?cursor=" + events.at(events.size() / 2).id, {{"Accept", "text/event-stream"}});
    QTRY_VERIFY_WITH_TIMEOUT(resume.isFinished(), 30000);
    QCOMPARE(resume.events().size(), events.size() - events.size() / 2 - 1);
    for (qsizetype i = 0; i < resume.events().size(); ++i)
        QCOMPARE(resume.events().at(i).id, events.at(events.size() / 2 + 1 + i).id);
}

void TestRedisTransport::frozenRedisTimesOutAndRecovers()
{
    // SIGSTOP: the connection stays open and nothing answers. A command fails with Timeout
    // within --redis-timeout-ms (plus the check's resolution), the connection is established
    // again once Redis runs, and the next command works.
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    RedisConfig cfg = parsed(redis.connectionString());
    cfg.commandTimeoutMs = 400;
    cfg.connectTimeoutMs = 400;
    RedisConnection c(cfg, QStringLiteral("t"));
    QVERIFY(openAndWait(c));
    QCOMPARE(::kill(pid_t(redis.pid()), SIGSTOP), 0);
    QElapsedTimer clock;
    clock.start();
    RedisError error;
    bool done = false;
    c.command({"PING"}, [&](const RedisReply &, const RedisError &e) {
        error = e;
        done = true;
    });
    QTRY_VERIFY_WITH_TIMEOUT(done, 5000);
    const qint64 took = clock.elapsed();
    QCOMPARE(int(error.kind), int(RedisError::Kind::Timeout));
    QVERIFY2(took >= 400 && took < 400 + 1000, qPrintable(QString::number(took)));
    QVERIFY(!c.isConnected());
    QSignalSpy connected(&c, &RedisConnection::connected);
    ::kill(pid_t(redis.pid()), SIGCONT);
    QVERIFY(connected.wait(10000));
    QCOMPARE(ping(c), QStringLiteral("PONG"));
}

void TestRedisTransport::runsStreamThroughAFrozenRedis()
{
    // The app with --redis-timeout-ms 500 while Redis is frozen for longer than that: its
    // commands time out, the connections are re-established after SIGCONT, and the live runs
    // lose and double nothing (their writes were kept and are sent again with their ids).
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    Config config;
    config.demoPaceMs = 10;
    config.redisTimeoutMs = 500;
    auto backend = startTestBackend(config, redis.connectionString());
    QVERIFY(backend);
    const quint16 port = backend->port();
    std::vector<std::unique_ptr<HttpClient>> runs;
    for (int i = 0; i < 3; ++i) {
        runs.push_back(std::make_unique<HttpClient>());
        runs.back()->request(port, "POST", "/api/agent/create", {{"Accept", "text/event-stream"}, {"Content-Type", "text/plain"}},
                             "Plan a 4-day trip to Porto");
    }
    for (const auto &r : runs)
        QTRY_VERIFY_WITH_TIMEOUT(r->events().size() >= 5, 10000);
    QCOMPARE(::kill(pid_t(redis.pid()), SIGSTOP), 0);
    // Frozen until a command has timed out (the server logs it and reconnects meanwhile).
    auto allConnected = [&] {
        const auto connections = backend->connections();
        return std::all_of(connections.cbegin(), connections.cend(), [](const RedisConnection *c) { return c->isConnected(); });
    };
    QTRY_VERIFY_WITH_TIMEOUT(!allConnected(), 5000);
    ::kill(pid_t(redis.pid()), SIGCONT);
    QTRY_VERIFY_WITH_TIMEOUT(allConnected(), 10000);
    for (const auto &r : runs)
        QTRY_VERIFY_WITH_TIMEOUT(r->isFinished(), 60000);
    for (const auto &r : runs) {
        QCOMPARE(r->events().last().event, QByteArray("done"));
        HttpClient replay;
        replay.request(port, "GET", "/api/agent/stream/" + r->header("x-conversation-id"), {{"Accept", "text/event-stream"}});
        QTRY_VERIFY_WITH_TIMEOUT(replay.isFinished(), 30000);
        QCOMPARE(replay.events().size(), r->events().size());
        for (qsizetype i = 0; i < replay.events().size(); ++i) {
            QCOMPARE(replay.events().at(i).id, r->events().at(i).id);
            QCOMPARE(replay.events().at(i).data, r->events().at(i).data);
        }
    }
}

void TestRedisTransport::garbageFromTheServerDropsTheConnection()
{
    // Not Redis: answers every command with bytes that are not RESP. The connection reports a
    // protocol error and drops (and retries), never crashes or hangs.
    QTcpServer fake;
    QVERIFY(fake.listen(QHostAddress::LocalHost, 0));
    connect(&fake, &QTcpServer::newConnection, &fake, [&fake] {
        while (QTcpSocket *s = fake.nextPendingConnection())
            connect(s, &QTcpSocket::readyRead, s, [s] {
                s->readAll();
                s->write("HTTP/1.1 400 Bad Request\r\n\r\n");
            });
    });
    RedisConnection c(parsed(QStringLiteral("127.0.0.1:%1").arg(fake.serverPort())), QStringLiteral("garbage"));
    const RedisError error = firstFailure(c);
    QCOMPARE(int(error.kind), int(RedisError::Kind::Protocol));
    QVERIFY(!c.isConnected());
}

void TestRedisTransport::entraIdTokensFromTheAzureCli()
{
    // REDIS_AZURE_AUTH=cli with no password: every connection sends AUTH <oid> <token> with a
    // token from `az account get-access-token --resource https://redis.azure.com`, and again
    // before it expires. A stand-in `az` on PATH hands out a new token (a JWT whose payload
    // carries the oid and a counter) valid for 3 s on every call; the Redis user named by the
    // oid accepts the first 40 of them as passwords.
    const QByteArray oid = "11111111-2222-3333-4444-555555555555";
    auto tokenFor = [&](int n) {
        const QByteArray payload = QByteArray("{\"oid\":\"" + oid + "\",\"n\":" + QByteArray::number(n) + "}");
        return "eyJhbGciOiJub25lIn0." + payload.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals) + ".sig";
    };
    QTemporaryDir bin;
    QFile az(bin.filePath(QStringLiteral("az")));
    QVERIFY(az.open(QIODevice::WriteOnly));
    az.write("#!/bin/sh\n"
             "[ \"$1 $2 $3 $4\" = \"account get-access-token --resource https://redis.azure.com\" ] || { echo \"unexpected: $*\" >&2; exit 2; }\n"
             "n=$(cat \"" + bin.path().toUtf8() + "/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"" + bin.path().toUtf8() + "/count\"\n"
             "payload=$(printf '{\"oid\":\"" + oid + "\",\"n\":%d}' $n | base64 -w0 | tr '+/' '-_' | tr -d '=')\n"
             "printf '{\"accessToken\":\"eyJhbGciOiJub25lIn0.%s.sig\",\"expires_on\":%d,\"tokenType\":\"Bearer\"}\\n' \"$payload\" $(( $(date +%s) + 3 ))\n");
    az.close();
    QVERIFY(az.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
    RedisServer redis;
    QVERIFY2(redis.start(), qPrintable(redis.error()));
    QStringList acl{QStringLiteral("ACL"), QStringLiteral("SETUSER"), QString::fromUtf8(oid), QStringLiteral("on"), QStringLiteral("~*"),
                    QStringLiteral("&*"), QStringLiteral("+@all")};
    for (int n = 1; n <= 40; ++n)
        acl << QStringLiteral(">") + QString::fromUtf8(tokenFor(n));
    QCOMPARE(redis.cli(acl), QByteArray("OK"));
    const QByteArray path = qgetenv("PATH");
    qputenv("PATH", bin.path().toUtf8() + ':' + path);
    Config config;
    config.redisAzureCli = true;
    config.demoPaceMs = 1;
    auto backend = startTestBackend(config, redis.connectionString());
    QVERIFY(backend);
    // Every connection of the app is logged in as the oid's user.
    const QByteArray clients = redis.cli({QStringLiteral("CLIENT"), QStringLiteral("LIST")});
    QVERIFY2(clients.count("user=" + oid) >= 4, clients.constData());
    // ... and authenticates again before its 3 s token runs out.
    auto authCalls = [&] {
        const QByteArray stats = redis.cli({QStringLiteral("INFO"), QStringLiteral("commandstats")});
        const qsizetype at = stats.indexOf("cmdstat_auth:calls=");
        return at < 0 ? 0 : stats.mid(at + 19).split(',').first().toInt();
    };
    const int first = authCalls();
    QTRY_VERIFY_WITH_TIMEOUT(authCalls() >= first + 4, 10000);
    HttpClient run;
    run.request(backend->port(), "POST", "/api/agent/create", {{"Accept", "text/event-stream"}, {"Content-Type", "text/plain"}}, "Plan a trip to Oslo");
    QTRY_VERIFY_WITH_TIMEOUT(run.isFinished(), 30000);
    QCOMPARE(run.events().last().event, QByteArray("done"));
    qputenv("PATH", path);
}

QTEST_GUILESS_MAIN(TestRedisTransport)
#include "tst_redistransport.moc"
