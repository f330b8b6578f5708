// Hash slots, hash tags, the tag table, cluster redirect parsing, CLUSTER SLOTS parsing and the
// cluster= connection-string option: pure functions, no server.
#include "redis/KeySlot.h"
#include "redis/RedisConfig.h"
#include "redis/RedisReply.h"
#include "redis/SlotTable.h"

#include <QTest>

class TestClusterSlots : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void crc16Vector()
    {
        // The check value of CRC16/XMODEM, as in the Redis Cluster specification.
        QCOMPARE(KeySlot::crc16("123456789"), quint16(0x31C3));
        QCOMPARE(KeySlot::crc16(""), quint16(0));
    }
    void keySlots_data()
    {
        QTest::addColumn<QByteArray>("key");
        QTest::addColumn<QByteArray>("sameAs");
        QTest::newRow("tag") << QByteArray("{user1000}.following") << QByteArray("user1000");
        QTest::newRow("tag elsewhere") << QByteArray("x{user1000}y") << QByteArray("user1000");
        QTest::newRow("empty tag = whole key") << QByteArray("foo{}{bar}") << QByteArray("foo{}{bar}");
        QTest::newRow("first brace") << QByteArray("foo{{bar}}zap") << QByteArray("{bar");
        QTest::newRow("first tag only") << QByteArray("foo{bar}{zap}") << QByteArray("bar");
        QTest::newRow("no close") << QByteArray("foo{bar") << QByteArray("foo{bar");
        QTest::newRow("conversation") << QByteArray("agent-stream:{@dafx-travelplanner@0123456789abcdef0123456789abcdef}")
                                      << QByteArray("@dafx-travelplanner@0123456789abcdef0123456789abcdef");
    }
    void keySlots()
    {
        QFETCH(QByteArray, key);
        QFETCH(QByteArray, sameAs);
        QCOMPARE(KeySlot::slotOf(key), KeySlot::crc16(sameAs) & 16383);
    }
    void knownSlots()
    {
        // Values from CLUSTER KEYSLOT on redis-server 7.0.
        QCOMPARE(KeySlot::slotOf("foo"), 12182);
        QCOMPARE(KeySlot::slotOf("bar"), 5061);
        QCOMPARE(KeySlot::slotOf("123456789"), 12739);
    }
    void tagTable()
    {
        for (int s = 0; s < KeySlot::kSlots; ++s) {
            const QByteArray &tag = KeySlot::tagForSlot(s);
            QVERIFY2(!tag.isEmpty() && tag.size() <= 4, qPrintable(QString::number(s)));
            QCOMPARE(KeySlot::slotOf("agent-streams:leases:{" + tag + "}"), s);
        }
    }
    void redirects_data()
    {
        QTest::addColumn<QByteArray>("error");
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("slot");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        using K = ClusterRedirect::Kind;
        QTest::newRow("moved") << QByteArray("MOVED 16287 127.0.0.1:7102") << int(K::Moved) << 16287 << "127.0.0.1" << 7102;
        QTest::newRow("ask") << QByteArray("ASK 3999 10.0.0.2:6381") << int(K::Ask) << 3999 << "10.0.0.2" << 6381;
        QTest::newRow("moved no host") << QByteArray("MOVED 1 :6381") << int(K::Moved) << 1 << "" << 6381;
        QTest::newRow("ipv6") << QByteArray("MOVED 2 ::1:6381") << int(K::Moved) << 2 << "::1" << 6381;
        QTest::newRow("tryagain") << QByteArray("TRYAGAIN Multiple keys request during rehashing of slot") << int(K::TryAgain) << -1 << "" << 0;
        QTest::newRow("clusterdown") << QByteArray("CLUSTERDOWN The cluster is down") << int(K::ClusterDown) << -1 << "" << 0;
        QTest::newRow("noscript") << QByteArray("NOSCRIPT No matching script. Please use EVAL.") << int(K::NoScript) << -1 << "" << 0;
        QTest::newRow("crossslot") << QByteArray("CROSSSLOT Keys in request don't hash to the same slot") << int(K::None) << -1 << "" << 0;
        QTest::newRow("bad slot") << QByteArray("MOVED 16384 127.0.0.1:1") << int(K::None) << -1 << "" << 0;
        QTest::newRow("bad port") << QByteArray("MOVED 1 127.0.0.1:x") << int(K::None) << -1 << "" << 0;
        QTest::newRow("prefix only") << QByteArray("MOVEDX 1 127.0.0.1:1") << int(K::None) << -1 << "" << 0;
    }
    void redirects()
    {
        QFETCH(QByteArray, error);
        QFETCH(int, kind);
        QFETCH(int, slot);
        QFETCH(QString, host);
        QFETCH(int, port);
        const ClusterRedirect r = ClusterRedirect::parse(error);
        QCOMPARE(int(r.kind), kind);
        QCOMPARE(r.slot, slot);
        QCOMPARE(r.host, host);
        QCOMPARE(r.port, port);
    }
    void clusterSlotsReply()
    {
        auto integer = [](long long v) { RedisReply r; r.type = RedisReply::Type::Integer; r.integer = v; return r; };
        auto string = [](const QByteArray &s) { RedisReply r; r.type = RedisReply::Type::String; r.str = s; return r; };
        auto array = [](QList<RedisReply> e) { RedisReply r; r.type = RedisReply::Type::Array; r.elements = std::move(e); return r; };
        const RedisReply reply = array({array({integer(0), integer(8191), array({string("10.0.0.1"), integer(7000), string("id1")}),
                                               array({string("10.0.0.4"), integer(7003), string("id4")})}),
                                        array({integer(8192), integer(16383), array({string(""), integer(7001), string("id2")})})});
        QString error;
        auto table = SlotTable::fromClusterSlots(reply, QStringLiteral("seed.local"), &error);
        QVERIFY2(table, qPrintable(error));
        QCOMPARE(table->nodes().size(), 2);
        QCOMPARE(table->nodes().at(table->nodeOf(0)).host, QStringLiteral("10.0.0.1"));
        QCOMPARE(table->nodes().at(table->nodeOf(16383)).host, QStringLiteral("seed.local"));
        QCOMPARE(table->slotsOf(table->nodeOf(8192)), 8192);
        QVERIFY(table->coversAll());
        QCOMPARE(table->primaries().size(), 2);

        // A newer table keeps the node indexes of the old one.
        SlotTable old = SlotTable::single(QStringLiteral("10.0.0.1"), 7000);
        old.update(*table);
        QCOMPARE(old.nodeOf(0), 0);
        QCOMPARE(old.nodes().at(old.nodeOf(9000)).port, 7001);

        QVERIFY(!SlotTable::fromClusterSlots(array({array({integer(5), integer(2), array({string("h"), integer(1)})})}), {}, &error));
        QVERIFY(!SlotTable::fromClusterSlots(string("x"), {}, &error));
    }
    void clusterOption_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("cluster");
        QTest::newRow("default") << "h:1" << int(RedisConfig::Cluster::Auto);
        QTest::newRow("on") << "h:1,h:2,cluster=true" << int(RedisConfig::Cluster::On);
        QTest::newRow("off") << "h:1,cluster=False" << int(RedisConfig::Cluster::Off);
        QTest::newRow("url") << "rediss://h:1?cluster=true" << int(RedisConfig::Cluster::On);
        QTest::newRow("bad") << "h:1,cluster=maybe" << -1;
    }
    void clusterOption()
    {
        QFETCH(QString, text);
        QFETCH(int, cluster);
        QString error;
        const auto cfg = RedisConfig::parse(text, &error);
        if (cluster < 0) {
            QVERIFY(!cfg);
            QVERIFY(error.contains(QLatin1String("cluster")));
            return;
        }
        QVERIFY2(cfg, qPrintable(error));
        QCOMPARE(int(cfg->cluster), cluster);
        QVERIFY(cfg->ignored.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestClusterSlots)
#include "tst_clusterslots.moc"
