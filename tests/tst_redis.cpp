// The Redis layer against a real redis-server: connection, typed errors, reconnect, the
// writer's batching and idempotent retries, the hub's shared blocking reads.
#include "RedisServer.h"
#include "redis/RedisConnection.h"
#include "redis/RedisRouter.h"
#include "streams/StreamHub.h"
#include "streams/StreamWriter.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

namespace {
RedisConfig configFor(const RedisServer &server)
{
    return *RedisConfig::parse(server.connectionString(), nullptr);
}

// Opens the connection and waits until it is up.
bool openAndWait(RedisConnection &c)
{
    QSignalSpy connected(&c, &RedisConnection::connected);
    c.open();
    return c.isConnected() || connected.wait(5000);
}

// The writer's router (one server: one connection), up.
bool openAndWait(RedisRouter &r)
{
    QSignalSpy connected(&r, &RedisRouter::connected);
    r.open();
    return r.isConnected() || connected.wait(5000);
}

// A writer router and the hub's query router (the hub makes its blocking reader itself).
struct HubConnections
{
    explicit HubConnections(const RedisConfig &config)
        : w(config, QStringLiteral("w"))
        , q(config, QStringLiteral("q"))
    {
        w.open();
        q.open();
    }
    bool ready() const { return w.isConnected() && q.isConnected(); }
    RedisRouter w;
    RedisRouter q;
};

struct Collector : StreamSubscriber
{
    QList<StreamEntry> entries;
    bool ended = false;
    void streamEntries(const QList<EntryView> &e) override
    {
        for (const EntryView &v : e)
            entries += v.toEntry();
    }
    void streamEnded() override { ended = true; }
    QByteArray text() const
    {
        QByteArray t;
        for (const auto &e : entries)
            t += e.field("text");
        return t;
    }
};
} // namespace

class TestRedis : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void commandsAndErrors();
    void repliesOfEveryShapeAndSize();
    void connectionRefusedRetries();
    void reconnectsAfterRestart();
    void writerBatchesInOrder();
    void writerSkipsEntriesThatAlreadyLanded();
    void writerRefusesARunEndedElsewhereWhoseEntryTookItsId();
    void writerSharesOneCallAcrossStreams();
    void writerPipelinesTwoCallsPerStream();
    void writerNeverLeavesAHoleAfterAFailedCall();
    void writerHoldsAFewEntriesBehindAnOutstandingCall();
    void writerBuffersThroughOutage();
    void writerBufferBound();
    void hubFanOutUsesFixedConnections();
    void hubNewReaderDoesNotWaitForBlockTimeout();
    void hubReplaysLargeBacklogInOrder();
    void hubFollowsElsewhereOnceTheLocalWriterStops();

private:
    RedisServer m_redis;
};

void TestRedis::initTestCase()
{
    QVERIFY2(m_redis.start(true), qPrintable(m_redis.error()));
}

void TestRedis::commandsAndErrors()
{
    RedisConnection c(configFor(m_redis), QStringLiteral("t"));
    QVERIFY(openAndWait(c));
    QVERIFY(c.clientId() > 0);
    RedisReply got;
    RedisError gotError;
    bool done = false;
    c.command({"SET", "k", QByteArray("v\0x", 3)}, [&](const RedisReply &r, const RedisError &e) { got = r; gotError = e; done = true; });
    QTRY_VERIFY(done);
    QVERIFY(!gotError.isError());
    done = false;
    c.command({"GET", "k"}, [&](const RedisReply &r, const RedisError &e) { got = r; gotError = e; done = true; });
    QTRY_VERIFY(done);
    QCOMPARE(got.str, QByteArray("v\0x", 3)); // binary safe
    done = false;
    c.command({"INCR", "k"}, [&](const RedisReply &r, const RedisError &e) { got = r; gotError = e; done = true; });
    QTRY_VERIFY(done);
    QCOMPARE(gotError.kind, RedisError::Kind::Reply);
    QVERIFY(gotError.message.contains(QStringLiteral("not an integer")));
}

// Replies are built in a per-connection arena (ReplyArena): nested arrays, nils, integers,
// errors, replies spanning many blocks and one larger than what the arena keeps, each read
// right, one after the other on the same connection.
void TestRedis::repliesOfEveryShapeAndSize()
{
    RedisConnection c(configFor(m_redis), QStringLiteral("t"));
    QVERIFY(openAndWait(c));
    auto run = [&c](const QList<QByteArray> &args) -> RedisReply {
        RedisReply got;
        RedisError error;
        bool done = false;
        c.command(args, [&](const RedisReply &r, const RedisError &e) { got = r; error = e; done = true; });
        if (!QTest::qWaitFor([&] { return done; }, 10000))
            error = {RedisError::Kind::Other, QStringLiteral("no reply")};
        if (error.isError()) {
            got.type = RedisReply::Type::Error;
            got.str = error.message.toUtf8();
        }
        return got;
    };
    const RedisReply nested = run({"EVAL", "return {1, {'two', {3}}, false, 'four'}", "0"});
    QVERIFY(nested.isArray());
    QCOMPARE(nested.elements.size(), 4);
    QCOMPARE(nested.elements.at(0).integer, 1);
    QCOMPARE(nested.elements.at(1).elements.at(0).str, QByteArray("two"));
    QCOMPARE(nested.elements.at(1).elements.at(1).elements.at(0).integer, 3);
    QVERIFY(nested.elements.at(2).isNil());
    QCOMPARE(nested.elements.at(3).str, QByteArray("four"));
    QVERIFY(run({"GET", "no-such-key"}).isNil());
    QVERIFY(run({"EVAL", "return redis.error_reply('broken')", "0"}).str.contains("broken"));

    // 9,000 values of 700 bytes: a 6 MiB reply, more than the arena keeps between replies, whose
    // element vector (72 KB) is larger than an arena block.
    const QByteArray big(700, 'x');
    for (int i = 0; i < 9000; i += 500) {
        QList<QByteArray> push{"RPUSH", "arena-list"};
        for (int j = i; j < i + 500; ++j)
            push << QByteArray::number(j) + ':' + big;
        QCOMPARE(run(push).integer, i + 500);
    }
    for (int round = 0; round < 2; ++round) {
        const RedisReply all = run({"LRANGE", "arena-list", "0", "-1"});
        QCOMPARE(all.elements.size(), 9000);
        for (int j = 0; j < 9000; j += 997)
            QCOMPARE(all.elements.at(j).str, QByteArray::number(j) + ':' + big);
        QCOMPARE(all.elements.last().str, QByteArray("8999:") + big);
        QCOMPARE(run({"LLEN", "arena-list"}).integer, 9000); // a small one right after
    }
}

void TestRedis::connectionRefusedRetries()
{
    RedisConfig cfg;
    cfg.host = QStringLiteral("127.0.0.1");
    cfg.port = RedisServer::freePort();
    RedisConnection c(cfg, QStringLiteral("t"));
    QSignalSpy lost(&c, &RedisConnection::disconnected);
    c.open();
    QVERIFY(lost.wait(5000));
    QCOMPARE(lost.first().first().value<RedisError>().kind, RedisError::Kind::Io);
    QVERIFY(lost.wait(5000)); // it keeps retrying
    bool failed = false;
    c.command({"PING"}, [&](const RedisReply &, const RedisError &e) { failed = e.kind == RedisError::Kind::Closed; });
    QVERIFY(failed); // fails at once while not connected
}

void TestRedis::reconnectsAfterRestart()
{
    RedisServer redis;
    QVERIFY(redis.start(true));
    RedisConnection c(configFor(redis), QStringLiteral("t"));
    QSignalSpy connected(&c, &RedisConnection::connected);
    QSignalSpy lost(&c, &RedisConnection::disconnected);
    c.open();
    QVERIFY(connected.wait(5000));
    redis.kill();
    QVERIFY(lost.wait(5000));
    QVERIFY(!c.isConnected());
    QVERIFY(redis.restart());
    QVERIFY(connected.wait(10000));
    QCOMPARE(c.reconnects(), 1);
}

void TestRedis::writerBatchesInOrder()
{
    RedisRouter c(configFor(m_redis), QStringLiteral("w"));
    QVERIFY(openAndWait(c));
    StreamWriter writer(&c);
    writer.setTtlMs(60000);
    QSignalSpy drained(&writer, &StreamWriter::drained);
    QList<EntryId> ids;
    for (int i = 0; i < 1000; ++i)
        ids << writer.append("batch", {{"type", "message"}, {"text", QByteArray::number(i)}}, {{"status", "in_progress"}});
    for (int i = 1; i < ids.size(); ++i)
        QVERIFY(ids.at(i - 1) < ids.at(i));
    QTRY_VERIFY(!writer.hasPending("batch"));
    QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{batch}")}), QByteArray("1000"));
    QCOMPARE(m_redis.cli({QStringLiteral("HGET"), QStringLiteral("agent-run:{batch}"), QStringLiteral("status")}), QByteArray("in_progress"));
    const int ttl = m_redis.cli({QStringLiteral("PTTL"), QStringLiteral("agent-stream:{batch}")}).toInt();
    QVERIFY(ttl > 50000 && ttl <= 60000);
    QCOMPARE(m_redis.cli({QStringLiteral("XREVRANGE"), QStringLiteral("agent-stream:{batch}"), QStringLiteral("+"), QStringLiteral("-"),
                          QStringLiteral("COUNT"), QStringLiteral("1")})
                 .split('\n')
                 .first(),
             ids.last().toBytes());
}

void TestRedis::writerSharesOneCallAcrossStreams()
{
    RedisRouter c(configFor(m_redis), QStringLiteral("w"));
    QVERIFY(openAndWait(c));
    StreamWriter writer(&c);
    // A run ended by another instance: its appends are refused, the other streams' are not.
    m_redis.cli({QStringLiteral("HSET"), QStringLiteral("agent-run:{multi-ended}"), QStringLiteral("status"), QStringLiteral("cancelled")});
    m_redis.cli({QStringLiteral("CONFIG"), QStringLiteral("RESETSTAT")});
    QList<QByteArray> failedIds;
    QString failure;
    QHash<QByteArray, int> appendedPerStream;
    connect(&writer, &StreamWriter::failed, this, [&](const QByteArray &id, const RedisError &e) {
        failedIds << id;
        failure = e.message;
    });
    connect(&writer, &StreamWriter::appended, this, [&](const QByteArray &id, const EntryId &, const QList<StreamEntry> &entries) {
        appendedPerStream[id] += int(entries.size());
    });
    for (int i = 0; i < 50; ++i) {
        writer.append("multi-" + QByteArray::number(i), {{"type", "message"}, {"text", "a"}}, {}, 9999999999999);
        writer.append("multi-" + QByteArray::number(i), {{"type", "message"}, {"text", "b"}});
    }
    writer.append("multi-ended", {{"type", "message"}, {"text", "late"}});
    QTRY_COMPARE(appendedPerStream.size(), 50);
    QTRY_COMPARE(failedIds, QList<QByteArray>{"multi-ended"});
    QVERIFY2(failure.startsWith(QLatin1String("ENDED")), qPrintable(failure));
    for (int i = 0; i < 50; ++i)
        QCOMPARE(appendedPerStream.value("multi-" + QByteArray::number(i)), 2);
    for (int i = 0; i < 50; i += 7)
        QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{multi-%1}").arg(i)}), QByteArray("2"));
    QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{multi-ended}")}), QByteArray("0"));
    // The lease is in the slot's bucket, and the bucket in the registry (one SADD for the turn).
    const QString bucket = QString::fromLatin1(StreamKeys::leaseBucket("multi-3"));
    QCOMPARE(m_redis.cli({QStringLiteral("ZSCORE"), bucket, QStringLiteral("multi-3")}), QByteArray("9999999999999"));
    QCOMPARE(m_redis.cli({QStringLiteral("SISMEMBER"), QString::fromLatin1(StreamKeys::leaseBuckets()), bucket}), QByteArray("1"));
    QCOMPARE(m_redis.cli({QStringLiteral("EXISTS"), QString::fromLatin1(StreamKeys::leases())}), QByteArray("0"));
    // Every stream appended in one event-loop turn went out in ONE script call (plus, on a
    // server that does not know the script yet, the NOSCRIPT attempt before SCRIPT LOAD).
    QCOMPARE(writer.callsSent(), quint64(1));
    const QByteArray stats = m_redis.cli({QStringLiteral("INFO"), QStringLiteral("commandstats")});
    auto calls = [&](const QByteArray &name) {
        const qsizetype at = stats.indexOf("cmdstat_" + name + ":calls=");
        return at < 0 ? 0 : stats.mid(at + name.size() + 15).split(',').first().toInt();
    };
    QVERIFY2(calls("evalsha") >= 1 && calls("evalsha") <= 2 && calls("eval") == 0, stats.constData());
    QCOMPARE(calls("sadd"), 1);
    QCOMPARE(calls("xadd"), 100);
}

// A backlog appended while the writer's first call of a stream is still out goes out as a
// second call at once (Redis is paused so that both are out together), and lands in order
// after the first.
void TestRedis::writerPipelinesTwoCallsPerStream()
{
    RedisRouter c(configFor(m_redis), QStringLiteral("w"));
    QVERIFY(openAndWait(c));
    StreamWriter writer(&c);
    QList<QPair<EntryId, EntryId>> batches; // previous, last of each `appended`
    connect(&writer, &StreamWriter::appended, this, [&](const QByteArray &, const EntryId &previous, const QList<StreamEntry> &entries) {
        batches.append({previous, entries.last().id});
    });
    // The stream's lease bucket is listed first (its SADD would be one more pending command).
    bool listed = false;
    writer.whenBucketListed("pipe", [&listed](const RedisError &) { listed = true; });
    QTRY_VERIFY(listed);
    m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("PAUSE"), QStringLiteral("10000"), QStringLiteral("WRITE")});
    QList<EntryId> ids;
    for (int i = 0; i < 400; ++i)
        ids << writer.append("pipe", {{"type", "message"}, {"text", QByteArray::number(i)}});
    QTRY_COMPARE(c.connections().first()->pendingCommands(), 1);
    for (int i = 400; i < 500; ++i)
        ids << writer.append("pipe", {{"type", "message"}, {"text", QByteArray::number(i)}});
    QTRY_COMPARE(c.connections().first()->pendingCommands(), 2); // sent while the first is still out
    m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("UNPAUSE")});
    QTRY_VERIFY(!writer.hasPending("pipe"));
    QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{pipe}")}), QByteArray("500"));
    QCOMPARE(batches.size(), 2);
    QCOMPARE(batches.at(0), qMakePair(EntryId{}, ids.at(399)));
    QCOMPARE(batches.at(1), qMakePair(ids.at(399), ids.at(499)));
}

// The first of two calls out together fails part way (an entry Redis refuses): the second
// must not land, or the stream would have a hole. The stream fails once and keeps exactly the
// entries before the refused one.
void TestRedis::writerNeverLeavesAHoleAfterAFailedCall()
{
    RedisRouter c(configFor(m_redis), QStringLiteral("w"));
    QVERIFY(openAndWait(c));
    StreamWriter writer(&c);
    QSignalSpy failed(&writer, &StreamWriter::failed);
    QSignalSpy appended(&writer, &StreamWriter::appended);
    // The stream's lease bucket is listed first (its SADD would be one more pending command).
    bool listed = false;
    writer.whenBucketListed("hole", [&listed](const RedisError &) { listed = true; });
    QTRY_VERIFY(listed);
    m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("PAUSE"), QStringLiteral("10000"), QStringLiteral("WRITE")});
    QList<EntryId> ids;
    for (int i = 0; i < 300; ++i)
        ids << writer.append("hole", {{"type", "message"}, {"text", QByteArray::number(i)}});
    writer.append("hole", {}); // XADD without fields: refused by Redis
    for (int i = 301; i < 400; ++i)
        writer.append("hole", {{"type", "message"}, {"text", QByteArray::number(i)}});
    QTRY_COMPARE(c.connections().first()->pendingCommands(), 1);
    for (int i = 400; i < 500; ++i) // a backlog: pipelined behind the first call
        writer.append("hole", {{"type", "message"}, {"text", QByteArray::number(i)}});
    QTRY_COMPARE(c.connections().first()->pendingCommands(), 2);
    m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("UNPAUSE")});
    QTRY_COMPARE(c.connections().first()->pendingCommands(), 0);
    QCOMPARE(failed.size(), 1);
    QCOMPARE(appended.size(), 0);
    QVERIFY(!writer.hasPending("hole"));
    QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{hole}")}), QByteArray("300"));
    QCOMPARE(m_redis.cli({QStringLiteral("XREVRANGE"), QStringLiteral("agent-stream:{hole}"), QStringLiteral("+"), QStringLiteral("-"),
                          QStringLiteral("COUNT"), QStringLiteral("1")})
                 .split('\n')
                 .first(),
             ids.last().toBytes());
}

// A few entries appended while the stream's call is out wait for its reply instead of going
// as a second call (which would make Redis check, per stream, that the first one landed: the
// work that kept the writer behind under 2,000 live streams). They go with the next call, and
// no `after` check (XREVRANGE) runs at all.
void TestRedis::writerHoldsAFewEntriesBehindAnOutstandingCall()
{
    RedisRouter c(configFor(m_redis), QStringLiteral("w"));
    QVERIFY(openAndWait(c));
    StreamWriter writer(&c);
    QList<int> batchSizes;
    connect(&writer, &StreamWriter::appended, this, [&](const QByteArray &id, const EntryId &, const QList<StreamEntry> &entries) {
        if (id == "few")
            batchSizes.append(int(entries.size()));
    });
    int listed = 0;
    writer.whenBucketListed("few", [&listed](const RedisError &) { ++listed; });
    writer.whenBucketListed("other", [&listed](const RedisError &) { ++listed; });
    QTRY_COMPARE(listed, 2);
    m_redis.cli({QStringLiteral("CONFIG"), QStringLiteral("RESETSTAT")});
    m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("PAUSE"), QStringLiteral("10000"), QStringLiteral("WRITE")});
    writer.append("few", {{"type", "message"}, {"text", "0"}});
    QTRY_COMPARE(c.connections().first()->pendingCommands(), 1);
    for (int i = 1; i < 4; ++i)
        writer.append("few", {{"type", "message"}, {"text", QByteArray::number(i)}});
    // Another stream's entry: the flush that sends it would have taken the three as well.
    writer.append("other", {{"type", "message"}, {"text", "x"}});
    QTRY_COMPARE(c.connections().first()->pendingCommands(), 2);
    m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("UNPAUSE")});
    QTRY_VERIFY(!writer.hasPending("few"));
    QCOMPARE(batchSizes, (QList<int>{1, 3}));
    QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{few}")}), QByteArray("4"));
    const QByteArray stats = m_redis.cli({QStringLiteral("INFO"), QStringLiteral("commandstats")});
    QVERIFY2(!stats.contains("cmdstat_xrevrange"), stats.constData());
}

void TestRedis::writerSkipsEntriesThatAlreadyLanded()
{
    RedisRouter c(configFor(m_redis), QStringLiteral("w"));
    QVERIFY(openAndWait(c));
    StreamWriter writer(&c);
    // A first attempt that reached Redis before its reply was lost: the entry with the id the
    // writer assigns next is there already (ids far in the future make that id predictable).
    m_redis.cli({QStringLiteral("XADD"), QStringLiteral("agent-stream:{dup}"), QStringLiteral("9999999999999-0"), QStringLiteral("text"), QStringLiteral("a")});
    writer.prime("dup", EntryId{9999999999998, ~quint64(0)});
    const EntryId id = writer.append("dup", {{"type", "message"}, {"text", "a"}});
    QCOMPARE(id, (EntryId{9999999999999, 0}));
    const EntryId next = writer.append("dup", {{"type", "message"}, {"text", "b"}});
    QTRY_VERIFY(!writer.hasPending("dup"));
    // The retried entry was recognised by its id and not written twice.
    QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{dup}")}), QByteArray("2"));
    QVERIFY(id < next);
}

void TestRedis::writerRefusesARunEndedElsewhereWhoseEntryTookItsId()
{
    RedisRouter c(configFor(m_redis), QStringLiteral("w"));
    QVERIFY(openAndWait(c));
    StreamWriter writer(&c);
    QSignalSpy failed(&writer, &StreamWriter::failed);
    QSignalSpy appended(&writer, &StreamWriter::appended);
    // Our entry "a" is stored; then another instance cancels the run, and its clock gives the
    // error entry the id our writer assigns next.
    const QString key = QStringLiteral("agent-stream:{taken}");
    m_redis.cli({QStringLiteral("XADD"), key, QStringLiteral("9999999999999-0"), QStringLiteral("type"), QStringLiteral("message"),
                 QStringLiteral("text"), QStringLiteral("a")});
    m_redis.cli({QStringLiteral("XADD"), key, QStringLiteral("9999999999999-1"), QStringLiteral("type"), QStringLiteral("error"),
                 QStringLiteral("code"), QStringLiteral("cancelled")});
    m_redis.cli({QStringLiteral("HSET"), QStringLiteral("agent-run:{taken}"), QStringLiteral("status"), QStringLiteral("cancelled")});
    writer.prime("taken", EntryId{9999999999998, ~quint64(0)});
    // A retry of the stored entry is still accepted...
    QCOMPARE(writer.append("taken", {{"type", "message"}, {"text", "a"}}), (EntryId{9999999999999, 0}));
    QVERIFY(appended.wait(5000));
    QCOMPARE(failed.size(), 0);
    // ...but an entry that only shares the error entry's id is not ours: refused, never
    // acknowledged (a reader told it was stored would skip the real end of the stream).
    QCOMPARE(writer.append("taken", {{"type", "message"}, {"text", "b"}}), (EntryId{9999999999999, 1}));
    QVERIFY(failed.wait(5000));
    QVERIFY(failed.first().at(1).value<RedisError>().message.startsWith(QLatin1String("ENDED")));
    QCOMPARE(appended.size(), 1);
    QCOMPARE(m_redis.cli({QStringLiteral("XLEN"), key}), QByteArray("2"));
}

void TestRedis::writerBuffersThroughOutage()
{
    RedisServer redis;
    QVERIFY(redis.start(true));
    RedisRouter c(configFor(redis), QStringLiteral("w"));
    QSignalSpy connected(&c, &RedisRouter::connected);
    c.open();
    QVERIFY(connected.wait(5000));
    StreamWriter writer(&c);
    for (int i = 0; i < 50; ++i)
        writer.append("outage", {{"type", "message"}, {"text", QByteArray::number(i) + '|'}});
    QTRY_VERIFY(!writer.hasPending("outage"));
    redis.kill();
    QTRY_VERIFY(!c.isConnected());
    for (int i = 50; i < 120; ++i)
        writer.append("outage", {{"type", "message"}, {"text", QByteArray::number(i) + '|'}});
    QVERIFY(writer.hasPending("outage"));
    QVERIFY(redis.restart());
    QVERIFY(connected.wait(10000));
    QTRY_VERIFY_WITH_TIMEOUT(!writer.hasPending("outage"), 10000);
    QCOMPARE(redis.cli({QStringLiteral("XLEN"), QStringLiteral("agent-stream:{outage}")}), QByteArray("120"));
    const QByteArray all = redis.cli({QStringLiteral("XRANGE"), QStringLiteral("agent-stream:{outage}"), QStringLiteral("-"), QStringLiteral("+")});
    int expected = 0;
    for (const QByteArray &line : all.split('\n')) {
        if (line.endsWith('|')) {
            QCOMPARE(line, QByteArray::number(expected) + '|');
            ++expected;
        }
    }
    QCOMPARE(expected, 120); // every chunk once, in order
}

void TestRedis::writerBufferBound()
{
    RedisConfig nowhere;
    nowhere.host = QStringLiteral("127.0.0.1");
    nowhere.port = RedisServer::freePort();
    RedisRouter c(nowhere, QStringLiteral("w"));
    StreamWriter writer(&c);
    writer.setMaxBufferedBytes(4096);
    QSignalSpy failed(&writer, &StreamWriter::failed);
    for (int i = 0; i < 100 && failed.isEmpty(); ++i)
        writer.append("bound", {{"type", "message"}, {"text", QByteArray(100, 'x')}});
    QCOMPARE(failed.size(), 1);
    QVERIFY(failed.first().at(1).value<RedisError>().message.contains(QStringLiteral("buffer full")));
    QVERIFY(writer.bufferedBytes() <= 4096);
    // A terminal entry is still accepted so the stream can end once Redis is back.
    writer.append("bound", {{"type", "error"}, {"code", "storage_error"}});
    QVERIFY(writer.bufferedBytes() > 4096 - 200);
}

void TestRedis::hubFanOutUsesFixedConnections()
{
    HubConnections c(configFor(m_redis));
    QTRY_VERIFY(c.ready());
    StreamWriter writer(&c.w);
    StreamHub hub(&c.q, configFor(m_redis), 2);
    QTRY_VERIFY(hub.isAvailable());
    QCOMPARE(hub.connections().size(), 2);
    const int clientsBefore = m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("LIST")}).count('\n') + 1;
    constexpr int kStreams = 20, kPerStream = 10;
    std::vector<std::unique_ptr<Collector>> subs;
    for (int s = 0; s < kStreams; ++s)
        for (int i = 0; i < kPerStream; ++i) {
            subs.push_back(std::make_unique<Collector>());
            hub.subscribe(subs.back().get(), "fan" + QByteArray::number(s), EntryId{});
        }
    QTRY_COMPARE(hub.liveStreamCount(), kStreams);
    for (int k = 0; k < 30; ++k)
        for (int s = 0; s < kStreams; ++s)
            writer.append("fan" + QByteArray::number(s), {{"type", "message"}, {"text", QByteArray::number(k) + ','}});
    for (int s = 0; s < kStreams; ++s)
        writer.append("fan" + QByteArray::number(s), {{"type", "done"}});
    QTRY_VERIFY_WITH_TIMEOUT(std::all_of(subs.begin(), subs.end(), [](const auto &c) { return c->ended; }), 20000);
    QByteArray expected;
    for (int k = 0; k < 30; ++k)
        expected += QByteArray::number(k) + ',';
    for (const auto &c : subs)
        QCOMPARE(c->text(), expected);
    QCOMPARE(hub.subscriberCount(), 0);
    // 200 subscribers, still the same four connections (writer, query, two readers).
    QCOMPARE(m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("LIST")}).count('\n') + 1, clientsBefore);
}

void TestRedis::hubNewReaderDoesNotWaitForBlockTimeout()
{
    HubConnections c(configFor(m_redis));
    QTRY_VERIFY(c.ready());
    StreamWriter writer(&c.w);
    StreamHub hub(&c.q, configFor(m_redis), 1);
    hub.setBlockMs(60000); // a reader joining must interrupt this, not wait it out
    Collector first, second;
    hub.subscribe(&first, "unblock-a", EntryId{});
    QTRY_COMPARE(hub.liveStreamCount(), 1);
    QTRY_VERIFY(m_redis.cli({QStringLiteral("CLIENT"), QStringLiteral("LIST")}).contains("cmd=xread"));
    hub.subscribe(&second, "unblock-b", EntryId{});
    QTRY_COMPARE(hub.liveStreamCount(), 2);
    QElapsedTimer t;
    t.start();
    writer.append("unblock-b", {{"type", "message"}, {"text", "hi"}});
    QTRY_VERIFY_WITH_TIMEOUT(!second.entries.isEmpty(), 5000);
    QVERIFY2(t.elapsed() < 5000, "the new stream must be read without waiting for the block timeout");
    hub.unsubscribe(&first);
    hub.unsubscribe(&second);
}

void TestRedis::hubReplaysLargeBacklogInOrder()
{
    HubConnections c(configFor(m_redis));
    QTRY_VERIFY(c.ready());
    StreamWriter writer(&c.w);
    QList<EntryId> ids;
    for (int i = 0; i < 5000; ++i)
        ids << writer.append("backlog", {{"type", "message"}, {"text", QByteArray::number(i) + '\n'}});
    writer.append("backlog", {{"type", "done"}});
    QTRY_VERIFY_WITH_TIMEOUT(!writer.hasPending("backlog"), 10000);
    StreamHub hub(&c.q, configFor(m_redis), 1);
    hub.setBatchSize(700);
    Collector all, tail;
    hub.subscribe(&all, "backlog", EntryId{});
    hub.subscribe(&tail, "backlog", ids.at(2499));
    QTRY_VERIFY_WITH_TIMEOUT(all.ended && tail.ended, 10000);
    QCOMPARE(all.entries.size(), 5001);
    QCOMPARE(tail.entries.size(), 2501);
    QCOMPARE(tail.entries.first().id, ids.at(2500));
    for (int i = 0; i < 5000; ++i)
        QCOMPARE(all.entries.at(i).id, ids.at(i));
    QCOMPARE(hub.liveStreamCount(), 0); // finished streams never join the live read
}

// A stream written here is followed from the writer's acknowledgements (no blocking read).
// Once the writer lets it go, what another process appends must still reach the followers.
void TestRedis::hubFollowsElsewhereOnceTheLocalWriterStops()
{
    HubConnections c(configFor(m_redis));
    QTRY_VERIFY(c.ready());
    StreamWriter writer(&c.w);
    StreamHub hub(&c.q, configFor(m_redis), 1);
    hub.setBlockMs(60000); // joining the blocking read must interrupt it, not wait it out
    hub.setLocalWriter([&writer](const QByteArray &id) { return writer.isTracking(id); });
    connect(&writer, &StreamWriter::appended, &hub, &StreamHub::deliverLocal);
    connect(&writer, &StreamWriter::stopped, &hub, &StreamHub::localWriterStopped);
    QSignalSpy stopped(&writer, &StreamWriter::stopped);

    writer.append("handover", {{"type", "message"}, {"text", "here\n"}});
    Collector follower;
    hub.subscribe(&follower, "handover", EntryId{});
    QTRY_COMPARE(follower.entries.size(), 1);
    writer.append("handover", {{"type", "message"}, {"text", "still here\n"}});
    QTRY_COMPARE(follower.entries.size(), 2);
    writer.release("handover");
    QTRY_COMPARE(stopped.size(), 1);
    QVERIFY(!writer.isTracking("handover"));

    // The next turn runs in another instance: a plain XADD, as its writer would do.
    m_redis.cli({QStringLiteral("XADD"), QStringLiteral("agent-stream:{handover}"), QStringLiteral("*"), QStringLiteral("type"),
                 QStringLiteral("message"), QStringLiteral("text"), QStringLiteral("elsewhere\n")});
    QTRY_COMPARE_WITH_TIMEOUT(follower.entries.size(), 3, 5000);
    QCOMPARE(follower.text(), QByteArray("here\nstill here\nelsewhere\n"));
    QVERIFY(!follower.ended);
    hub.unsubscribe(&follower);
}

QTEST_GUILESS_MAIN(TestRedis)
#include "tst_redis.moc"
