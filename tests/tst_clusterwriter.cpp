// The write side on a real Redis Cluster (3 primaries + 3 replicas, started once for the suite):
// StreamWriter's one call per slot, entries stored once and in order over every primary,
// NOSCRIPT after SCRIPT FLUSH, a live slot migrated (ASK/TRYAGAIN, then MOVED) while appends
// go on, the SPUBLISH wake-up, lease buckets (claim, renew, end, cancel) through RunManager, a
// dead instance's runs on every primary ended by RunRecovery, and kill -9 of a primary while
// appending (last: it leaves the cluster one node short).
#include "RedisCluster.h"

#include "agents/Agent.h"
#include "redis/RedisRouter.h"
#include "runs/ConversationId.h"
#include "runs/RunManager.h"
#include "runs/RunRecovery.h"
#include "streams/StreamWriter.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QPointer>
#include <QSet>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

namespace {
// Sends through the router and waits for the answer (signals, no fixed sleeps).
RedisReply call(RedisRouter &router, const QByteArray &key, const QList<QByteArray> &args, RedisError *error = nullptr)
{
    bool done = false;
    RedisReply out;
    router.command(key, args, [&](const RedisReply &reply, const RedisError &e) {
        done = true;
        out = reply;
        if (error)
            *error = e;
    });
    (void)QTest::qWaitFor([&] { return done; }, 20000);
    return out;
}

struct Entry
{
    QByteArray id;
    QByteArray type;
    QByteArray text;
};

QList<Entry> readStream(RedisRouter &router, const QByteArray &conversationId)
{
    const QByteArray key = StreamKeys::stream(conversationId);
    QList<Entry> out;
    for (const RedisReply &item : call(router, key, {"XRANGE", key, "-", "+"}).elements) {
        Entry e;
        e.id = item.elements.value(0).str;
        const auto fields = item.elements.value(1).elements;
        for (int i = 0; i + 1 < fields.size(); i += 2) {
            if (fields.at(i).str == "type")
                e.type = fields.at(i + 1).str;
            else if (fields.at(i).str == "text")
                e.text = fields.at(i + 1).str;
        }
        out.append(e);
    }
    return out;
}

// Every message entry i carries the text "i": the stream holds exactly 0..count-1, once each,
// in order, with strictly increasing ids, then `done`.
QString checkStream(const QList<Entry> &entries, int count)
{
    int next = 0;
    EntryId last;
    bool ended = false;
    for (const Entry &e : entries) {
        const auto id = EntryId::parse(e.id);
        if (!id || !(last < *id))
            return QStringLiteral("id %1 not above %2").arg(QString::fromLatin1(e.id), QString::fromLatin1(last.toBytes()));
        last = *id;
        if (ended)
            return QStringLiteral("entry after done");
        if (e.type == "done") {
            ended = true;
        } else if (e.type == "message") {
            if (e.text != QByteArray::number(next))
                return QStringLiteral("entry %1 is '%2' (lost or doubled)").arg(next).arg(QString::fromLatin1(e.text));
            ++next;
        }
    }
    if (next != count || !ended)
        return QStringLiteral("%1 of %2 entries, ended: %3").arg(next).arg(count).arg(ended);
    return {};
}

// An agent that answers only when the test says so.
class HeldAgent : public Agent
{
public:
    using Agent::Agent;
    void start(const AgentRequest &) override {}
    void cancel() override {}
    QString name() const override { return QStringLiteral("held"); }
};

// Appends entry "i" to each of its conversations on every tick, as a run's chunks would come.
struct Appender
{
    StreamWriter *writer = nullptr;
    QList<QByteArray> ids;
    QHash<QByteArray, int> sent;
    QTimer timer;
    void start(int intervalMs)
    {
        // A run's first entry: the run record and a lease (keys in the slot besides the stream).
        for (const QByteArray &id : std::as_const(ids))
            writer->append(id, {{"type", "turn"}}, {{"status", "in_progress"}}, QDateTime::currentMSecsSinceEpoch() + 60000);
        QObject::connect(&timer, &QTimer::timeout, [this] {
            for (const QByteArray &id : std::as_const(ids))
                writer->append(id, {{"type", "message"}, {"text", QByteArray::number(sent[id]++)}});
        });
        timer.start(intervalMs);
    }
    void finish()
    {
        timer.stop();
        for (const QByteArray &id : std::as_const(ids)) {
            writer->append(id, {{"type", "done"}}, {{"status", "completed"}}, 0);
            writer->release(id);
        }
    }
};

// redis-cli SSUBSCRIBE on one node: what it prints, to see the append's wake-up.
struct ShardSubscriber
{
    QProcess process;
    QByteArray out;
    bool start(quint16 port, const QByteArray &channel)
    {
        QObject::connect(&process, &QProcess::readyReadStandardOutput, [this] { out += process.readAllStandardOutput(); });
        process.start(QStringLiteral("redis-cli"), {QStringLiteral("-p"), QString::number(port), QStringLiteral("SSUBSCRIBE"), QString::fromLatin1(channel)});
        return QTest::qWaitFor([this] { return out.contains("ssubscribe"); }, 5000);
    }
    ~ShardSubscriber()
    {
        process.kill();
        process.waitForFinished(2000);
    }
};
} // namespace

class TestClusterWriter : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_cluster.start(), qPrintable(m_cluster.error()));
        const auto config = RedisConfig::parse(m_cluster.connectionString(), nullptr);
        QVERIFY(config);
        m_writerRouter = std::make_unique<RedisRouter>(*config, QStringLiteral("writer"));
        m_query = std::make_unique<RedisRouter>(*config, QStringLiteral("query"));
        for (RedisRouter *r : {m_writerRouter.get(), m_query.get()}) {
            QSignalSpy connected(r, &RedisRouter::connected);
            r->open();
            QVERIFY(connected.wait(10000));
            QVERIFY(r->isCluster());
        }
    }

    // 120 conversations over the 3 primaries: each turn's appends go out as one call per slot,
    // and every entry is stored once, in order.
    void oneCallPerSlotEveryEntryOnce()
    {
        StreamWriter writer(m_writerRouter.get());
        QList<QByteArray> ids;
        QSet<int> slotSet;
        QHash<quint16, int> perNode;
        for (int i = 0; i < 120; ++i) {
            ids << ConversationId::generate();
            slotSet.insert(StreamKeys::slotOf(ids.last()));
            ++perNode[portOf(StreamKeys::stream(ids.last()))];
        }
        QCOMPARE(perNode.size(), 3);
        // First turn: the buckets are listed (one SADD), then the calls go.
        for (const QByteArray &id : ids)
            writer.append(id, {{"type", "turn"}}, {{"status", "in_progress"}}, QDateTime::currentMSecsSinceEpoch() + 60000);
        QTRY_VERIFY(!writer.hasPending());
        const quint64 before = writer.callsSent();
        constexpr int kEntries = 5;
        for (int k = 0; k < kEntries; ++k)
            for (const QByteArray &id : ids)
                writer.append(id, {{"type", "message"}, {"text", QByteArray::number(k)}});
        for (const QByteArray &id : ids)
            writer.append(id, {{"type", "done"}}, {{"status", "completed"}}, 0);
        QTRY_VERIFY_WITH_TIMEOUT(!writer.hasPending(), 10000);
        qInfo("%lld conversations in %lld slots: %llu calls for one turn of %d entries each", qint64(ids.size()), qint64(slotSet.size()),
              writer.callsSent() - before, kEntries + 1);
        QCOMPARE(writer.callsSent() - before, quint64(slotSet.size()));
        for (const QByteArray &id : ids)
            QVERIFY2(checkStream(readStream(*m_query, id), kEntries).isEmpty(), qPrintable(id + ": " + checkStream(readStream(*m_query, id), kEntries)));
        QStringList counts;
        for (int node : m_query->primaries()) {
            const quint16 port = quint16(m_query->table().nodes().at(node).port);
            int streams = 0;
            for (const QByteArray &id : ids)
                streams += m_cluster.cli(port, {QStringLiteral("EXISTS"), QString::fromLatin1(StreamKeys::stream(id))}) == "1";
            QCOMPARE(streams, perNode.value(port));
            counts << QStringLiteral("%1: %2 streams (%3 keys)").arg(port).arg(streams).arg(QString::fromLatin1(m_cluster.cli(port, {QStringLiteral("DBSIZE")})));
        }
        qInfo("per primary: %s", qPrintable(counts.join(QStringLiteral(", "))));
        // Ended runs left their buckets; the buckets are listed, in every copy of the registry
        // (each on its own primary).
        const QByteArray bucket = StreamKeys::leaseBucket(ids.first());
        QCOMPARE(call(*m_query, bucket, {"ZSCORE", bucket, ids.first()}).type, RedisReply::Type::Nil);
        QSet<quint16> registryPrimaries;
        for (const QByteArray &registry : StreamKeys::leaseBucketRegistries(true)) {
            QTRY_COMPARE(call(*m_query, registry, {"SISMEMBER", registry, bucket}).integer, 1LL);
            registryPrimaries.insert(m_cluster.primaryOf(registry));
        }
        QCOMPARE(registryPrimaries.size(), 3);
    }

    void noScriptAfterScriptFlushOnOneNode()
    {
        StreamWriter writer(m_writerRouter.get());
        const QByteArray id = ConversationId::generate();
        writer.append(id, {{"type", "message"}, {"text", "0"}});
        QTRY_VERIFY(!writer.hasPending());
        QCOMPARE(m_cluster.cli(portOf(StreamKeys::stream(id)), {QStringLiteral("SCRIPT"), QStringLiteral("FLUSH")}), QByteArray("OK"));
        writer.append(id, {{"type", "message"}, {"text", "1"}});
        writer.append(id, {{"type", "done"}});
        QTRY_VERIFY(!writer.hasPending());
        QVERIFY2(checkStream(readStream(*m_query, id), 2).isEmpty(), qPrintable(checkStream(readStream(*m_query, id), 2)));
    }

    // Every append to a stream ends with SPUBLISH of its new last id on its wake channel.
    void appendPublishesTheWakeUp()
    {
        StreamWriter writer(m_writerRouter.get());
        const QByteArray id = ConversationId::generate();
        ShardSubscriber sub;
        QVERIFY(sub.start(portOf(StreamKeys::stream(id)), StreamKeys::wake(id)));
        writer.append(id, {{"type", "message"}, {"text", "a"}});
        const EntryId last = writer.append(id, {{"type", "message"}, {"text", "b"}});
        QTRY_VERIFY(!writer.hasPending());
        QTRY_VERIFY2(sub.out.contains(last.toBytes()), sub.out.constData());
    }

    // A slot holding a live stream moves to another primary while appends go on: the calls
    // follow ASK / TRYAGAIN, then MOVED; nothing is lost or doubled.
    void liveSlotMigrates()
    {
        StreamWriter writer(m_writerRouter.get());
        Appender app;
        app.writer = &writer;
        for (int i = 0; i < 10; ++i)
            app.ids << ConversationId::generate();
        const QByteArray moving = app.ids.first();
        const int slot = StreamKeys::slotOf(moving);
        QHash<QByteArray, int> written;
        connect(&writer, &StreamWriter::appended, this, [&](const QByteArray &id, const EntryId &, const QList<StreamEntry> &e) { written[id] += int(e.size()); });
        auto progressed = [&](int n) {
            const int from = written.value(moving);
            return QTest::qWaitFor([&] { return written.value(moving) >= from + n; }, 15000);
        };
        app.start(2);
        QVERIFY(progressed(20));
        const quint16 source = m_cluster.primaryOf(StreamKeys::stream(moving));
        const quint16 target = m_cluster.otherPrimary(source);
        const QString s = QString::number(slot);
        QVERIFY(m_cluster.beginMigration(slot, source, target));
        QVERIFY(progressed(20));
        const QStringList keys = QString::fromLatin1(m_cluster.cli(source, {QStringLiteral("CLUSTER"), QStringLiteral("GETKEYSINSLOT"), s, QStringLiteral("100")}))
                                     .split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QVERIFY2(keys.size() >= 3, qPrintable(keys.join(QLatin1Char(' ')))); // stream, run record, lease bucket
        QCOMPARE(m_cluster.cli(source, QStringList{QStringLiteral("MIGRATE"), QStringLiteral("127.0.0.1"), QString::number(target), QString(),
                                                   QStringLiteral("0"), QStringLiteral("5000"), QStringLiteral("KEYS")} + keys),
                 QByteArray("OK"));
        QElapsedTimer asked;
        asked.start();
        QVERIFY(progressed(20)); // keys on the target, slot still the source's: ASK
        qInfo("slot %d: %lld keys migrated %d -> %d; 20 more entries stored through ASK in %lld ms", slot, qint64(keys.size()), source, target,
              asked.elapsed());
        m_cluster.endMigration(slot, target);
        QVERIFY(progressed(20)); // MOVED
        QCOMPARE(quint16(m_writerRouter->table().nodes().at(m_writerRouter->nodeOf(StreamKeys::stream(moving))).port), target);
        app.finish();
        QTRY_VERIFY_WITH_TIMEOUT(!writer.hasPending(), 15000);
        for (const QByteArray &id : std::as_const(app.ids)) {
            const QString problem = checkStream(readStream(*m_query, id), app.sent.value(id));
            QVERIFY2(problem.isEmpty(), qPrintable(id + ": " + problem));
        }
        qInfo("%d entries of the migrated stream, all once and in order", app.sent.value(moving));
    }

    // Claim (start, addTurn), renew, end and cancel of runs through RunManager: the lease is in
    // the bucket of the conversation's slot, on its primary.
    void leasesLiveInBuckets()
    {
        StreamWriter writer(m_writerRouter.get());
        QList<QPointer<HeldAgent>> agents;
        RunManager runs(&writer, m_query.get(), [&agents](const AgentRequest &, QObject *parent) {
            auto *a = new HeldAgent(parent);
            agents << a;
            return a;
        }, 6000);
        QSignalSpy ended(&runs, &RunManager::runEnded);
        EntryId first;
        const QByteArray id = runs.start(QStringLiteral("hello"), {}, {}, &first);
        const QByteArray bucket = StreamKeys::leaseBucket(id);
        QCOMPARE(KeySlot::slotOf(bucket), StreamKeys::slotOf(id));
        QTRY_VERIFY(!writer.hasPending());
        auto lease = [&] { return call(*m_query, bucket, {"ZSCORE", bucket, id}).str.toLongLong(); };
        const qint64 claimed = lease();
        QVERIFY(claimed > QDateTime::currentMSecsSinceEpoch());
        QCOMPARE(m_cluster.cli(portOf(StreamKeys::stream(id)), {QStringLiteral("ZSCORE"), QString::fromLatin1(bucket), QString::fromLatin1(id)}).toLongLong(), claimed);
        QCOMPARE(call(*m_query, StreamKeys::leaseBuckets(), {"SISMEMBER", StreamKeys::leaseBuckets(), bucket}).integer, 1LL);
        QTRY_VERIFY(QDateTime::currentMSecsSinceEpoch() > claimed - RunRecovery::leaseExpiryMs(6000) + 20);
        runs.renewLeases();
        QTRY_VERIFY(lease() > claimed);
        Q_EMIT agents.last()->finished();
        QTRY_COMPARE(ended.size(), 1);
        QTRY_VERIFY(!writer.hasPending());
        QCOMPARE(call(*m_query, bucket, {"ZSCORE", bucket, id}).type, RedisReply::Type::Nil);

        // A new turn claims the conversation again (the claim script ZADDs the bucket)...
        bool turned = false;
        runs.addTurn(id, QStringLiteral("again"), {}, "*", [&](const RunError &error, const EntryId &) {
            QVERIFY2(error.kind == RunError::Kind::None, qPrintable(error.message));
            turned = true;
        });
        QTRY_VERIFY(turned);
        QVERIFY(lease() > QDateTime::currentMSecsSinceEpoch());
        // ...and a cancel from another instance ends it (kEndRun drops the lease, publishes).
        ShardSubscriber sub;
        QVERIFY(sub.start(portOf(StreamKeys::stream(id)), StreamKeys::wake(id)));
        StreamWriter otherWriter(m_writerRouter.get());
        RunManager other(&otherWriter, m_query.get(), [](const AgentRequest &, QObject *parent) { return new HeldAgent(parent); }, 6000);
        bool cancelled = false;
        other.cancelRemote(id, [&](bool c, const RedisError &e) {
            QVERIFY2(!e.isError(), qPrintable(e.message));
            cancelled = c;
        });
        QTRY_VERIFY(cancelled);
        QCOMPARE(call(*m_query, bucket, {"ZSCORE", bucket, id}).type, RedisReply::Type::Nil);
        const QList<Entry> entries = readStream(*m_query, id);
        QCOMPARE(entries.last().type, QByteArray("error"));
        QTRY_VERIFY2(sub.out.contains(entries.last().id), sub.out.constData());
        Q_EMIT agents.last()->chunk(QStringLiteral("late")); // its owner hears ENDED at its next write
        QTRY_COMPARE(ended.size(), 2);
    }

    // A dead instance left a running run in a bucket on each primary: the sweeper ends them all.
    void deadInstanceRecoveredOnEveryPrimary()
    {
        QList<QByteArray> ids;
        QSet<quint16> nodes;
        while (ids.size() < 3) {
            const QByteArray id = ConversationId::generate();
            const quint16 port = portOf(StreamKeys::stream(id));
            if (nodes.contains(port))
                continue;
            nodes.insert(port);
            ids << id;
        }
        {
            StreamWriter dead(m_writerRouter.get());
            for (const QByteArray &id : ids)
                dead.append(id, {{"type", "turn"}}, {{"status", "in_progress"}, {"owner", "dead"}}, QDateTime::currentMSecsSinceEpoch() + 300);
            QTRY_VERIFY(!dead.hasPending());
        } // the instance is gone; its leases run out
        RunRecovery recovery(m_query.get(), 1000, 60000);
        QSignalSpy recovered(&recovery, &RunRecovery::recovered);
        QElapsedTimer t;
        t.start();
        QTRY_COMPARE_WITH_TIMEOUT(recovered.size(), 3, 5000);
        qInfo("3 dead runs, one per primary, ended %lld ms after their owner stopped (lease 300 ms, sweep every %lld ms)", t.elapsed(),
              RunRecovery::sweepIntervalMs(1000));
        for (const QByteArray &id : ids) {
            QCOMPARE(readStream(*m_query, id).last().type, QByteArray("error"));
            QCOMPARE(call(*m_query, StreamKeys::run(id), {"HGET", StreamKeys::run(id), "status"}).str, QByteArray("failed"));
            QCOMPARE(call(*m_query, StreamKeys::leaseBucket(id), {"ZSCORE", StreamKeys::leaseBucket(id), id}).type, RedisReply::Type::Nil);
        }
    }

    // Last (they leave the cluster one node short each): kill -9 of a primary while 30 streams
    // are appended to. The replica takes over; every entry is there once. First with the
    // primary's acknowledgement alone (async replication: the stall is the failover's), then
    // with WAIT 1 (an entry counts as stored once a replica has it).
    void primaryKilledWhileAppending() { killPrimaryWhileAppending(0); }
    void primaryKilledWhileAppendingWithWait() { killPrimaryWhileAppending(1); }

private:
    void killPrimaryWhileAppending(int waitReplicas)
    {
        StreamWriter writer(m_writerRouter.get());
        writer.setWaitReplicas(waitReplicas, 500);
        Appender app;
        app.writer = &writer;
        // The victim is a primary that still has a replica (an earlier kill left one without).
        quint16 victim = 0;
        for (quint16 port : m_cluster.ports())
            if (m_cluster.cli(port, {QStringLiteral("INFO"), QStringLiteral("replication")}).contains("connected_slaves:1"))
                victim = port;
        QVERIFY(victim != 0);
        while (app.ids.isEmpty() || m_cluster.primaryOf(StreamKeys::stream(app.ids.first())) != victim)
            app.ids = {ConversationId::generate()};
        for (int i = 1; i < 30; ++i)
            app.ids << ConversationId::generate();
        QSet<QByteArray> onVictim;
        for (const QByteArray &id : std::as_const(app.ids))
            if (m_cluster.primaryOf(StreamKeys::stream(id)) == victim)
                onVictim.insert(id);
        QElapsedTimer clock;
        clock.start();
        qint64 killedAt = -1, victimMaxGap = 0, lastVictim = -1, othersMaxGap = 0, lastOther = -1;
        int victimAfter = 0;
        connect(&writer, &StreamWriter::appended, this, [&](const QByteArray &id, const EntryId &, const QList<StreamEntry> &) {
            const qint64 now = clock.elapsed();
            if (killedAt < 0)
                return;
            if (onVictim.contains(id)) {
                victimMaxGap = qMax(victimMaxGap, now - (lastVictim < 0 ? killedAt : lastVictim));
                lastVictim = now;
                ++victimAfter;
            } else {
                othersMaxGap = qMax(othersMaxGap, now - (lastOther < 0 ? killedAt : lastOther));
                lastOther = now;
            }
        });
        app.start(5);
        QTRY_VERIFY(app.sent.value(app.ids.first()) > 50);
        killedAt = clock.elapsed();
        m_cluster.kill(victim);
        QTRY_VERIFY_WITH_TIMEOUT(victimAfter >= 20, 30000);
        QVERIFY(m_cluster.primaryOf(StreamKeys::stream(app.ids.first())) != victim);
        app.finish();
        QTRY_VERIFY_WITH_TIMEOUT(!writer.hasPending(), 20000);
        int total = 0;
        for (const QByteArray &id : std::as_const(app.ids)) {
            const QString problem = checkStream(readStream(*m_query, id), app.sent.value(id));
            QVERIFY2(problem.isEmpty(), qPrintable(id + ": " + problem));
            total += app.sent.value(id);
        }
        qInfo("WAIT %d: kill -9 of primary %d (%lld of 30 streams on it): its streams' longest pause in acknowledgements %lld ms, the other streams' %lld ms; "
              "%d entries, all once and in order; %d router refreshes",
              waitReplicas, victim, qint64(onVictim.size()), victimMaxGap, othersMaxGap, total, m_writerRouter->refreshes());
    }

    // The port of the primary serving `key`, by the query router's table (after a failover or
    // a migration: m_cluster.primaryOf, the cluster's own answer).
    quint16 portOf(const QByteArray &key) const { return quint16(m_query->table().nodes().at(m_query->nodeOf(key)).port); }

    RedisCluster m_cluster;
    std::unique_ptr<RedisRouter> m_writerRouter;
    std::unique_ptr<RedisRouter> m_query;
};

QTEST_GUILESS_MAIN(TestClusterWriter)
#include "tst_clusterwriter.moc"
