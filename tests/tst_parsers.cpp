// Pure parsers: cursors, connection strings, Accept negotiation, conversation ids, config;
// and the demo itinerary's shape.
#include "Config.h"
#include "agents/Itinerary.h"
#include "http/ContentNegotiation.h"
#include "redis/RedisConfig.h"
#include "runs/ConversationId.h"
#include "streams/EntryId.h"

#include <QTest>

class TestParsers : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void cursor_data();
    void cursor();
    void entryOrder();
    void connectionString_data();
    void connectionString();
    void connectionStringOptions();
    void accept_data();
    void accept();
    void conversationId_data();
    void conversationId();
    void generatedIds();
    void config();
    void itineraryDoesNotRepeatItself();
};

void TestParsers::cursor_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<quint64>("ms");
    QTest::addColumn<quint64>("seq");
    QTest::newRow("empty = start") << QByteArray() << true << quint64(0) << quint64(0);
    QTest::newRow("zero") << QByteArray("0") << true << quint64(0) << quint64(0);
    QTest::newRow("zero-zero") << QByteArray("0-0") << true << quint64(0) << quint64(0);
    QTest::newRow("sample") << QByteArray("1734567890123-0") << true << quint64(1734567890123) << quint64(0);
    QTest::newRow("seq") << QByteArray("5-42") << true << quint64(5) << quint64(42);
    QTest::newRow("max") << QByteArray("18446744073709551615-18446744073709551615") << true << ~quint64(0) << ~quint64(0);
    QTest::newRow("overflow") << QByteArray("18446744073709551616-0") << false << quint64(0) << quint64(0);
    QTest::newRow("ms only") << QByteArray("1734567890123") << false << quint64(0) << quint64(0);
    QTest::newRow("dollar") << QByteArray("$") << false << quint64(0) << quint64(0);
    QTest::newRow("plus") << QByteArray("+") << false << quint64(0) << quint64(0);
    QTest::newRow("negative") << QByteArray("-1-0") << false << quint64(0) << quint64(0);
    QTest::newRow("letters") << QByteArray("abc-1") << false << quint64(0) << quint64(0);
    QTest::newRow("space") << QByteArray("1- 2") << false << quint64(0) << quint64(0);
    QTest::newRow("crlf injection") << QByteArray("1-0\r\nX: y") << false << quint64(0) << quint64(0);
    QTest::newRow("missing seq") << QByteArray("12-") << false << quint64(0) << quint64(0);
    QTest::newRow("two dashes") << QByteArray("1-2-3") << false << quint64(0) << quint64(0);
}

void TestParsers::cursor()
{
    QFETCH(QByteArray, text);
    QFETCH(bool, valid);
    QFETCH(quint64, ms);
    QFETCH(quint64, seq);
    QString error;
    const auto id = parseCursor(text, &error);
    QCOMPARE(id.has_value(), valid);
    if (valid) {
        QCOMPARE(id->ms, ms);
        QCOMPARE(id->seq, seq);
    } else {
        QVERIFY(error.contains(QStringLiteral("cursor")));
        QVERIFY(!error.contains(QLatin1Char('\r')) && !error.contains(QLatin1Char('\n')));
    }
}

void TestParsers::entryOrder()
{
    QVERIFY((EntryId{1, 5}) < (EntryId{2, 0}));
    QVERIFY((EntryId{2, 0}) < (EntryId{2, 1}));
    QCOMPARE((EntryId{2, 1}).next(), (EntryId{2, 2}));
    QCOMPARE((EntryId{2, ~quint64(0)}).next(), (EntryId{3, 0}));
    QCOMPARE((EntryId{17, 3}).toBytes(), QByteArray("17-3"));
}

void TestParsers::connectionString_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("unixPath");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<int>("db");
    QTest::newRow("default") << "localhost:6379" << true << "localhost" << 6379 << "" << "" << "" << 0;
    QTest::newRow("host only") << "redis.local" << true << "redis.local" << 6379 << "" << "" << "" << 0;
    QTest::newRow("stackexchange") << "cache:6380,password=s3cr=t,defaultDatabase=2" << true << "cache" << 6380 << "" << "" << "s3cr=t" << 2;
    QTest::newRow("stackexchange ssl=false") << "h:1,ssl=False,abortConnect=false" << true << "h" << 1 << "" << "" << "" << 0;
    QTest::newRow("url") << "redis://user:p%40ss@10.0.0.5:6390/3" << true << "10.0.0.5" << 6390 << "" << "user" << "p@ss" << 3;
    QTest::newRow("url no port") << "redis://h" << true << "h" << 6379 << "" << "" << "" << 0;
    QTest::newRow("url password only") << "redis://:pw@h:7000" << true << "h" << 7000 << "" << "" << "pw" << 0;
    QTest::newRow("ipv6") << "[::1]:6379" << true << "::1" << 6379 << "" << "" << "" << 0;
    QTest::newRow("unix") << "unix:///run/redis/redis.sock" << true << "localhost" << 6379 << "/run/redis/redis.sock" << "" << "" << 0;
    QTest::newRow("unix db") << "unix:///tmp/r.sock?db=4" << true << "localhost" << 6379 << "/tmp/r.sock" << "" << "" << 4;
    QTest::newRow("empty") << "" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("bad port") << "localhost:99999" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("port not a number") << "localhost:abc" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("empty port") << "localhost:" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("rediss") << "rediss://:pw@h:6380/1" << true << "h" << 6380 << "" << "" << "pw" << 1;
    QTest::newRow("azure") << "mycache.redis.cache.windows.net:6380,password=k3y=,ssl=True,abortConnect=False" << true
                           << "mycache.redis.cache.windows.net" << 6380 << "" << "" << "k3y=" << 0;
    QTest::newRow("ssl default port") << "mycache.example.net,ssl=true" << true << "mycache.example.net" << 6380 << "" << "" << "" << 0;
    QTest::newRow("two endpoints") << "a:7001,b:7002,password=x" << true << "a" << 7001 << "" << "" << "x" << 0;
    QTest::newRow("sentinel url") << "sentinel://:sp@s1:26379,s2:26380/mymaster?db=2" << true << "s1" << 26379 << "" << "" << "" << 2;
    QTest::newRow("http scheme") << "http://h:6379" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("unknown option") << "h:1,colour=blue" << true << "h" << 1 << "" << "" << "" << 0; // ignored, with a warning
    QTest::newRow("bad ssl value") << "h:1,ssl=maybe" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("bad timeout") << "h:1,syncTimeout=soon" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("sentinel without master") << "sentinel://s1:26379" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("bad db") << "h:1,defaultDatabase=-1" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("unbracketed v6") << "::1:6379" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("unix relative") << "unix://relative.sock" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("url password, no host") << "redis://:s3cretpw@" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("url password, bad port") << "redis://user:s3cretpw@host:99999" << false << "" << 0 << "" << "" << "" << 0;
    QTest::newRow("option not kv") << "h:1,password" << false << "" << 0 << "" << "" << "" << 0;
}

void TestParsers::connectionString()
{
    QFETCH(QString, text);
    QFETCH(bool, valid);
    QString error;
    const auto cfg = RedisConfig::parse(text, &error);
    QCOMPARE(cfg.has_value(), valid);
    if (!valid) {
        QVERIFY2(!error.isEmpty(), "an invalid string must come with a message");
        QVERIFY2(!error.contains(QStringLiteral("s3cretpw")), qPrintable(error)); // never echo a password
        return;
    }
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, unixPath);
    QFETCH(QString, user);
    QFETCH(QString, password);
    QFETCH(int, db);
    QCOMPARE(cfg->unixPath, unixPath);
    if (unixPath.isEmpty()) {
        QCOMPARE(cfg->host, host);
        QCOMPARE(cfg->port, port);
    }
    QCOMPARE(cfg->user, user);
    QCOMPARE(cfg->password, password);
    QCOMPARE(cfg->database, db);
    QVERIFY(password.isEmpty() || !cfg->describe().contains(password));
}

void TestParsers::connectionStringOptions()
{
    // What the options do beyond host, port, credentials and database.
    auto cfg = RedisConfig::parse(QStringLiteral("10.0.0.9:6380,ssl=True,sslHost=mycache.redis.cache.windows.net,connectTimeout=1500,"
                                                 "syncTimeout=2500,allowAdmin=true,name=app"),
                                  nullptr);
    QVERIFY(cfg);
    QVERIFY(cfg->tls);
    QCOMPARE(cfg->tlsServerName, QStringLiteral("mycache.redis.cache.windows.net"));
    QCOMPARE(cfg->connectTimeoutMs, 1500);
    QCOMPARE(cfg->commandTimeoutMs, 2500);
    QCOMPARE(cfg->ignored, (QStringList{QStringLiteral("allowAdmin"), QStringLiteral("name")}));
    cfg = RedisConfig::parse(QStringLiteral("s1:26379,s2,serviceName=mymaster,password=pw"), nullptr);
    QVERIFY(cfg);
    QCOMPARE(cfg->sentinelMaster, QStringLiteral("mymaster"));
    QCOMPARE(cfg->endpoints.size(), 2);
    QCOMPARE(cfg->endpoints.at(1).second, 26379); // a sentinel's default port
    QCOMPARE(cfg->sentinelPassword, QStringLiteral("pw"));
    cfg = RedisConfig::parse(QStringLiteral("sentinel://:sp@s1:26379,s2:26380/mymaster"), nullptr);
    QVERIFY(cfg);
    QCOMPARE(cfg->sentinelMaster, QStringLiteral("mymaster"));
    QCOMPARE(cfg->sentinelPassword, QStringLiteral("sp"));
    QCOMPARE(cfg->endpoints.at(1), (QPair<QString, int>{QStringLiteral("s2"), 26380}));
    QVERIFY(!cfg->describe().contains(QLatin1String("sp")));
    cfg = RedisConfig::parse(QStringLiteral("rediss://h:6380"), nullptr);
    QVERIFY(cfg && cfg->tls);
    QVERIFY(cfg->describe().startsWith(QLatin1String("rediss://")));
}

void TestParsers::accept_data()
{
    QTest::addColumn<QByteArray>("accept");
    QTest::addColumn<bool>("allowJson");
    QTest::addColumn<int>("format");
    const int sse = int(ResponseFormat::Sse), text = int(ResponseFormat::Text), json = int(ResponseFormat::Json),
              none = int(ResponseFormat::None);
    QTest::newRow("none") << QByteArray() << false << sse;
    QTest::newRow("sse") << QByteArray("text/event-stream") << false << sse;
    QTest::newRow("any") << QByteArray("*/*") << false << sse;
    QTest::newRow("text") << QByteArray("text/plain") << false << text;
    QTest::newRow("text charset") << QByteArray("text/plain; charset=utf-8") << false << text;
    QTest::newRow("text and sse") << QByteArray("text/plain, text/event-stream") << false << text;
    QTest::newRow("sse preferred by q") << QByteArray("text/plain;q=0.5, text/event-stream") << false << sse;
    QTest::newRow("text q0") << QByteArray("text/plain;q=0, */*") << false << sse;
    QTest::newRow("browser navigation") << QByteArray("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8") << false << sse;
    QTest::newRow("text/*") << QByteArray("text/*") << false << sse;
    QTest::newRow("uppercase") << QByteArray("TEXT/PLAIN") << false << text;
    QTest::newRow("json allowed") << QByteArray("application/json") << true << json;
    QTest::newRow("json on stream") << QByteArray("application/json") << false << none;
    QTest::newRow("image") << QByteArray("image/png") << false << none;
    QTest::newRow("garbage") << QByteArray(",,;") << false << sse;
}

void TestParsers::accept()
{
    QFETCH(QByteArray, accept);
    QFETCH(bool, allowJson);
    QFETCH(int, format);
    QCOMPARE(int(negotiateFormat(accept, allowJson)), format);
}

void TestParsers::conversationId_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<bool>("valid");
    QTest::newRow("plain") << QByteArray("@dafx-travelplanner@a1b2c3d4e5f67890abcdef1234567890") << true;
    QTest::newRow("encoded") << QByteArray("%40dafx-travelplanner%40a1b2c3d4e5f67890abcdef1234567890") << true;
    QTest::newRow("uppercase hex") << QByteArray("@dafx-travelplanner@A1B2C3D4E5F67890ABCDEF1234567890") << false;
    QTest::newRow("short") << QByteArray("@dafx-travelplanner@a1b2") << false;
    QTest::newRow("other prefix") << QByteArray("@other@a1b2c3d4e5f67890abcdef1234567890") << false;
    QTest::newRow("crlf") << QByteArray("@dafx-travelplanner@a1b2c3d4e5f67890abcdef123456\r\n90") << false;
}

void TestParsers::conversationId()
{
    QFETCH(QByteArray, text);
    QFETCH(bool, valid);
    QCOMPARE(ConversationId::normalize(text).has_value(), valid);
}

void TestParsers::generatedIds()
{
    const QByteArray a = ConversationId::generate();
    const QByteArray b = ConversationId::generate();
    QVERIFY(a != b);
    QVERIFY(ConversationId::normalize(a).has_value());
    QCOMPARE(a.size(), qsizetype(20 + 32));
}

void TestParsers::config()
{
    QString error;
    QProcessEnvironment env;
    env.insert(QStringLiteral("REDIS_CONNECTION_STRING"), QStringLiteral("h:1"));
    env.insert(QStringLiteral("REDIS_STREAM_TTL_MINUTES"), QStringLiteral("3"));
    auto c = Config::parse({QStringLiteral("x")}, env, &error);
    QVERIFY(c);
    QCOMPARE(c->redisConnectionString, QStringLiteral("h:1"));
    QVERIFY(c->redisExplicit);
    QCOMPARE(c->ttlMs, qint64(3 * 60 * 1000));
    QCOMPARE(c->port, quint16(7071));
    c = Config::parse({QStringLiteral("x"), QStringLiteral("--redis"), QStringLiteral("other:2"), QStringLiteral("--ttl-seconds"), QStringLiteral("2"),
                       QStringLiteral("--port"), QStringLiteral("0")},
                      env, &error);
    QVERIFY(c);
    QCOMPARE(c->redisConnectionString, QStringLiteral("other:2")); // flags win
    QCOMPARE(c->ttlMs, qint64(2000));
    QCOMPARE(c->port, quint16(0));
    QVERIFY(!Config::parse({QStringLiteral("x"), QStringLiteral("--port"), QStringLiteral("70000")}, env, &error));
    QVERIFY(error.contains(QStringLiteral("port")));
    env.insert(QStringLiteral("REDIS_STREAM_TTL_MINUTES"), QStringLiteral("soon"));
    QVERIFY(!Config::parse({QStringLiteral("x")}, env, &error));
    QVERIFY(error.contains(QStringLiteral("TTL")));
}

QTEST_GUILESS_MAIN(TestParsers)
#include "tst_parsers.moc"

void TestParsers::itineraryDoesNotRepeatItself()
{
    for (int i = 0; i < 300; ++i) {
        const QString text = Itinerary::write(QStringLiteral("Plan a %1-day trip to city number %2").arg(i % 9 + 1).arg(i));
        const qsizetype start = text.indexOf(QStringLiteral("## 💡 Tips"));
        QVERIFY(start >= 0);
        QStringList tips;
        for (const QString &line : text.mid(start).split(QLatin1Char('\n')))
            if (line.startsWith(QLatin1String("- ")))
                tips << line;
        QCOMPARE(tips.size(), 3);
        QCOMPARE(QSet<QString>(tips.cbegin(), tips.cend()).size(), 3);
        // Lunch and dinner of a day are at different places.
        const QStringList lines = text.split(QLatin1Char('\n'));
        for (int l = 0; l + 3 < lines.size(); ++l) {
            if (!lines.at(l).contains(QLatin1String("**Lunch:**")))
                continue;
            const QString lunch = lines.at(l).section(QLatin1String("**Lunch:** "), 1).chopped(1).toLower();
            QVERIFY2(!lines.at(l + 2).toLower().endsWith(lunch + QLatin1Char('.')), qPrintable(lines.at(l) + QLatin1Char('\n') + lines.at(l + 2)));
        }
    }
}
