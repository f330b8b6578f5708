// RedisRouter on a real Redis Cluster (3 primaries + 3 replicas, started once for the suite):
// mode detection, routing by slot, ASK and MOVED across a real slot migration, NOSCRIPT after
// SCRIPT FLUSH on one node, a server that is not a cluster node with cluster=true, a cluster
// that answers CLUSTERDOWN, one server on the same code path, and kill -9 of a primary.
#include "RedisCluster.h"
#include "RedisServer.h"
#include "TestCertificates.h"

#include "Backend.h"
#include "redis/RedisRouter.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

namespace {
struct Result
{
    bool done = false;
    RedisReply reply;
    RedisError error;
};

// Sends through the router and waits for the callback (signals, no fixed sleeps).
Result call(RedisRouter &router, const QByteArray &key, const QList<QByteArray> &args, int timeoutMs = 15000)
{
    auto r = std::make_shared<Result>();
    router.command(key, args, [r](const RedisReply &reply, const RedisError &error) {
        r->done = true;
        r->reply = reply;
        r->error = error;
    });
    (void)QTest::qWaitFor([&] { return r->done; }, timeoutMs);
    return *r;
}

RedisConfig configFor(const QString &text)
{
    QString error;
    auto cfg = RedisConfig::parse(text, &error);
    if (!cfg)
        qFatal("%s", qPrintable(error));
    return *cfg;
}

QByteArray conversationKey(int i)
{
    return QByteArray("agent-stream:{@dafx-travelplanner@") + QByteArray::number(i).rightJustified(32, '0') + "}";
}
} // namespace

class TestRedisCluster : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        QElapsedTimer t;
        t.start();
        QVERIFY2(m_cluster.start(), qPrintable(m_cluster.error()));
        qInfo("cluster of 3 primaries + 3 replicas up in %lld ms", t.elapsed());
    }

    void detectsClusterFromOneNode()
    {
        // One node given (no cluster= option): the router finds the others.
        RedisRouter router(configFor(QStringLiteral("127.0.0.1:%1").arg(m_cluster.ports().first())), QStringLiteral("query"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(10000));
        QVERIFY(router.isCluster());
        QVERIFY(router.table().coversAll());
        QCOMPARE(router.primaries().size(), 3);
        QCOMPARE(router.connections().size(), 3); // one per primary, the seed closed
        QTRY_VERIFY(std::all_of(router.connections().cbegin(), router.connections().cend(), [](RedisConnection *c) { return c->isConnected(); }));
    }

    void routesEveryKeyToItsPrimary()
    {
        RedisRouter router(configFor(m_cluster.connectionString()), QStringLiteral("query"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(10000));
        const int n = 300;
        auto pending = std::make_shared<int>(n);
        auto failures = std::make_shared<QStringList>();
        for (int i = 0; i < n; ++i)
            router.command(conversationKey(i), {"SET", conversationKey(i), QByteArray::number(i)}, [pending, failures](const RedisReply &, const RedisError &e) {
                --*pending;
                if (e.isError())
                    failures->append(e.message);
            });
        QTRY_COMPARE(*pending, 0);
        QVERIFY2(failures->isEmpty(), qPrintable(failures->join(QLatin1Char('\n'))));
        QStringList counts;
        int total = 0;
        for (int node : router.primaries()) {
            const quint16 port = quint16(router.table().nodes().at(node).port);
            const int keys = m_cluster.cli(port, {QStringLiteral("DBSIZE")}).toInt();
            QVERIFY2(keys > n / 6, "the keys are spread over every primary");
            counts << QString::number(keys);
            total += keys;
        }
        QCOMPARE(total, n);
        qInfo("%d conversation keys per primary: %s", n, qPrintable(counts.join(QLatin1Char('/'))));
        for (int i = 0; i < n; i += 37) {
            const Result r = call(router, conversationKey(i), {"GET", conversationKey(i)});
            QVERIFY2(!r.error.isError(), qPrintable(r.error.message));
            QCOMPARE(r.reply.str, QByteArray::number(i));
            QCOMPARE(m_cluster.primaryOf(conversationKey(i)), quint16(router.table().nodes().at(router.nodeOf(conversationKey(i))).port));
        }
    }

    void followsAskThenMovedDuringMigration()
    {
        RedisRouter router(configFor(m_cluster.connectionString()), QStringLiteral("query"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(10000));
        const QByteArray key = "agent-run:{migrating-conversation}";
        QVERIFY(!call(router, key, {"SET", key, "before"}).error.isError());
        const int slot = KeySlot::slotOf(key);
        const quint16 source = m_cluster.primaryOf(key);
        quint16 target = 0;
        for (int node : router.primaries())
            if (quint16(router.table().nodes().at(node).port) != source)
                target = quint16(router.table().nodes().at(node).port);
        const QString sourceId = QString::fromLatin1(m_cluster.cli(source, {QStringLiteral("CLUSTER"), QStringLiteral("MYID")}));
        const QString targetId = QString::fromLatin1(m_cluster.cli(target, {QStringLiteral("CLUSTER"), QStringLiteral("MYID")}));
        const QString s = QString::number(slot);
        QCOMPARE(m_cluster.cli(target, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), s, QStringLiteral("IMPORTING"), sourceId}), QByteArray("OK"));
        QCOMPARE(m_cluster.cli(source, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), s, QStringLiteral("MIGRATING"), targetId}), QByteArray("OK"));
        QCOMPARE(m_cluster.cli(source, {QStringLiteral("MIGRATE"), QStringLiteral("127.0.0.1"), QString::number(target), QString::fromLatin1(key),
                                        QStringLiteral("0"), QStringLiteral("5000")}), QByteArray("OK"));
        // The key moved, the slot not yet: the source answers ASK, the router follows it.
        Result r = call(router, key, {"GET", key});
        QVERIFY2(!r.error.isError(), qPrintable(r.error.message));
        QCOMPARE(r.reply.str, QByteArray("before"));
        QCOMPARE(router.table().nodes().at(router.nodeOf(key)).port, int(source)); // ASK changes no table

        for (quint16 port : m_cluster.ports())
            m_cluster.cli(port, {QStringLiteral("CLUSTER"), QStringLiteral("SETSLOT"), s, QStringLiteral("NODE"), targetId});
        // Now MOVED: the slot is updated at once and the command answered from the target.
        r = call(router, key, {"SET", key, "after"});
        QVERIFY2(!r.error.isError(), qPrintable(r.error.message));
        QCOMPARE(router.table().nodes().at(router.nodeOf(key)).port, int(target));
        QCOMPARE(m_cluster.cli(target, {QStringLiteral("GET"), QString::fromLatin1(key)}), QByteArray("after"));
    }

    void loadsScriptWhereNoScript()
    {
        RedisRouter router(configFor(m_cluster.connectionString()), QStringLiteral("writer"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(10000));
        const RedisScript script = RedisScript::fromSource("return redis.call('INCR', KEYS[1])");
        const QByteArray key = "agent-run:{script-conversation}";
        auto eval = [&] {
            auto r = std::make_shared<Result>();
            router.eval(script, {key}, {}, [r](const RedisReply &reply, const RedisError &error) {
                r->done = true;
                r->reply = reply;
                r->error = error;
            });
            (void)QTest::qWaitFor([&] { return r->done; }, 10000);
            return *r;
        };
        Result r = eval(); // never loaded anywhere: NOSCRIPT, SCRIPT LOAD, EVALSHA
        QVERIFY2(!r.error.isError(), qPrintable(r.error.message));
        QCOMPARE(r.reply.integer, 1LL);
        QCOMPARE(m_cluster.cli(m_cluster.primaryOf(key), {QStringLiteral("SCRIPT"), QStringLiteral("FLUSH")}), QByteArray("OK"));
        r = eval();
        QVERIFY2(!r.error.isError(), qPrintable(r.error.message));
        QCOMPARE(r.reply.integer, 2LL); // run once: NOSCRIPT executes nothing
    }

    void singleServerTakesTheSamePath()
    {
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.error()));
        RedisRouter router(configFor(redis.connectionString()), QStringLiteral("query"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(10000));
        QVERIFY(!router.isCluster());
        QCOMPARE(router.primaries(), QList<int>{0});
        QCOMPARE(router.connections().size(), 1);
        for (const QByteArray &key : {QByteArray("a{1}"), QByteArray("b{2}"), QByteArray("c{3}")})
            QVERIFY(!call(router, key, {"SET", key, "v"}).error.isError());
        QCOMPARE(redis.cli({QStringLiteral("DBSIZE")}), QByteArray("3"));
    }

    void clusterTrueOnPlainServerIsAClearError()
    {
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.error()));
        RedisRouter router(configFor(redis.connectionString() + QStringLiteral(",cluster=true")), QStringLiteral("query"));
        QSignalSpy failed(&router, &RedisRouter::failed);
        router.open();
        QVERIFY(failed.wait(5000));
        QVERIFY2(failed.first().first().toString().contains(QLatin1String("not a Redis Cluster node")), qPrintable(failed.first().first().toString()));
        QVERIFY(failed.wait(5000)); // asks again, never gives up silently
        QVERIFY(!router.isReady());
        const Result r = call(router, "k", {"GET", "k"});
        QCOMPARE(r.error.kind, RedisError::Kind::Closed); // refused at once, no hang
    }

    void clusterDownIsRetriedThenReported()
    {
        // A cluster node that serves no slot: every command is CLUSTERDOWN.
        RedisServer node;
        node.setExtraArgs({QStringLiteral("--cluster-enabled"), QStringLiteral("yes"), QStringLiteral("--cluster-config-file"), QStringLiteral("nodes.conf")});
        QVERIFY2(node.start(), qPrintable(node.error()));
        RedisRouter router(configFor(node.connectionString()), QStringLiteral("query"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(10000));
        QVERIFY(router.isCluster());
        router.setRetryBudgetMs(800);
        QElapsedTimer t;
        t.start();
        Result r = call(router, "k", {"SET", "k", "v"});
        QVERIFY(r.done);
        QVERIFY2(r.error.message.contains(QLatin1String("CLUSTERDOWN")), qPrintable(r.error.message));
        QVERIFY2(t.elapsed() >= 700, qPrintable(r.error.message));

        // Retried while the slots come: the same command succeeds once a primary serves them.
        router.setRetryBudgetMs(10000);
        auto later = std::make_shared<Result>();
        router.command("k", {"SET", "k", "v"}, [later](const RedisReply &reply, const RedisError &error) {
            later->done = true;
            later->reply = reply;
            later->error = error;
        });
        QCOMPARE(node.cli({QStringLiteral("CLUSTER"), QStringLiteral("ADDSLOTSRANGE"), QStringLiteral("0"), QStringLiteral("16383")}), QByteArray("OK"));
        QTRY_VERIFY_WITH_TIMEOUT(later->done, 10000);
        QVERIFY2(!later->error.isError(), qPrintable(later->error.message));
    }

    void appRunsOnAClusterAndRefusesAPlainServerWithClusterTrue()
    {
        // Any node, or every node, of a cluster: cluster mode is found without a flag.
        for (const QString &text : {m_cluster.connectionString(), QStringLiteral("127.0.0.1:%1").arg(m_cluster.ports().last())}) {
            Config config;
            config.redisConnectionString = text;
            config.redisExplicit = true;
            config.port = 0;
            Backend backend(config);
            QSignalSpy ready(&backend, &Backend::ready);
            QSignalSpy failed(&backend, &Backend::failed);
            backend.start();
            QVERIFY2(ready.wait(15000), failed.isEmpty() ? "not ready in 15 s" : qPrintable(failed.first().first().toString()));
            QCOMPARE(backend.connections().size() >= 6, true); // writer and query: one per primary each
        }
        // cluster=true on a server that is not a cluster node: a clear reason, not a hang.
        RedisServer plain;
        QVERIFY2(plain.start(), qPrintable(plain.error()));
        Config config;
        config.redisConnectionString = QStringLiteral("127.0.0.1:%1,cluster=true").arg(plain.port());
        config.redisExplicit = true;
        config.port = 0;
        Backend backend(config);
        QSignalSpy failed(&backend, &Backend::failed);
        backend.start();
        QVERIFY(failed.wait(10000));
        QVERIFY2(failed.first().first().toString().contains(QLatin1String("is not a Redis Cluster node")), qPrintable(failed.first().first().toString()));
    }

    void tlsClusterRoutesToEveryPrimaryWithTheCertificateChecked()
    {
        // A TLS-only cluster (clients, bus and replication on TLS): every primary's connection
        // is TLS, verified against the CA and the host name the deployment was given.
        TestCertificates certs;
        QVERIFY2(certs.make(), qPrintable(certs.error()));
        RedisCluster tls;
        QVERIFY2(tls.startTls({certs.ca(), certs.serverCert(), certs.serverKey()}), qPrintable(tls.error()));
        RedisConfig cfg = configFor(QStringLiteral("rediss://localhost:%1").arg(tls.ports().first()));
        cfg.tlsCaFile = certs.ca();
        RedisRouter router(cfg, QStringLiteral("query"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(15000));
        QVERIFY(router.isCluster());
        QTRY_VERIFY_WITH_TIMEOUT(router.isConnected(), 10000);
        QCOMPARE(router.connections().size(), 3);
        QSet<int> nodes;
        for (int i = 0; i < 60; ++i) {
            const QByteArray key = conversationKey(i);
            const Result r = call(router, key, {"SET", key, "over-tls"});
            QVERIFY2(!r.error.isError(), qPrintable(r.error.message));
            nodes.insert(router.nodeOf(key));
        }
        QCOMPARE(nodes.size(), 3);
        QCOMPARE(tls.cli(tls.primaryOf(conversationKey(7)), {QStringLiteral("GET"), QString::fromUtf8(conversationKey(7))}), QByteArray("over-tls"));
        // A CA that signed nothing of this cluster: no connection, a reason that says why.
        RedisConfig wrong = cfg;
        wrong.tlsCaFile = certs.otherCa();
        RedisRouter refused(wrong, QStringLiteral("query"));
        refused.open();
        QTRY_VERIFY_WITH_TIMEOUT(refused.lastError().message.contains(QLatin1String("certificate"), Qt::CaseInsensitive), 10000);
        QVERIFY(!refused.isConnected());
    }

    // Last: it leaves the cluster with one node fewer.
    void primaryKilledReplicaTakesOver()
    {
        RedisRouter router(configFor(m_cluster.connectionString()), QStringLiteral("writer"));
        QSignalSpy ready(&router, &RedisRouter::ready);
        router.open();
        QVERIFY(ready.wait(10000));
        const QByteArray key = "agent-stream:{failover-conversation}";
        QVERIFY(!call(router, key, {"SET", key, "kept"}).error.isError());
        QVERIFY(!call(router, key, {"WAIT", "1", "2000"}).error.isError());
        const quint16 victim = m_cluster.primaryOf(key);
        m_cluster.kill(victim);
        QElapsedTimer stall;
        stall.start();
        // The caller's policy for an error after sending (as with one connection): send again.
        Result r;
        for (int i = 0; i < 20; ++i) {
            r = call(router, key, {"INCR", "{failover-conversation}:writes"}, 15000);
            if (!r.error.isError())
                break;
            QVERIFY2(r.error.isRetryable(), qPrintable(r.error.message));
        }
        QVERIFY2(!r.error.isError(), qPrintable(r.error.message));
        qInfo("writes to the killed primary's slots stalled %lld ms (node timeout 2000 ms)", stall.elapsed());
        QVERIFY(router.table().nodes().at(router.nodeOf(key)).port != victim);
        QCOMPARE(call(router, key, {"GET", key}).reply.str, QByteArray("kept"));
    }

private:
    RedisCluster m_cluster;
};

QTEST_GUILESS_MAIN(TestRedisCluster)
#include "tst_rediscluster.moc"
