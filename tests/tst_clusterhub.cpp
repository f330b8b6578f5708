// StreamHub's live reads on a real Redis Cluster (3 primaries + 3 replicas, started once for
// the suite): one wake-up subscriber per primary whatever the number of streams, SPUBLISH
// wake-ups from the append script (the writer's contract, run here by a small appender),
// reads from the live cursor after every (re)subscription, a real slot migration and kill -9
// of a primary while appends go on. Every reader's entries must equal the stream's replay.
#include "RedisCluster.h"

#include "redis/RedisConnection.h"
#include "redis/RedisRouter.h"
#include "streams/StreamHub.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QSignalSpy>
#include <QTest>

#include <map>

namespace {
// The append script's contract for cluster mode: XADD, then SPUBLISH the new last id on the
// conversation's wake-up channel (ARGV[4] = '1'; one server publishes nothing).
const RedisScript kAppend = RedisScript::fromSource(
    "local id = redis.call('XADD', KEYS[1], ARGV[1], 'type', ARGV[2], 'text', ARGV[3])\n"
    "if ARGV[4] == '1' then redis.call('SPUBLISH', ARGV[5], id) end\n"
    "return id\n");

// Writes `count` message entries and a done entry to each stream, one write in flight per
// stream, with explicit ids "1-<n>": a write retried after a lost reply is recognised
// ("equal or smaller") instead of doubled, so the streams are exact whatever fails.
class Appender : public QObject
{
public:
    Appender(RedisRouter *router, const QList<QByteArray> &conversations, int count)
        : m_router(router)
        , m_count(count)
    {
        for (const QByteArray &id : conversations)
            m_streams[id] = Stream{};
        m_timer.setInterval(5);
        connect(&m_timer, &QTimer::timeout, this, &Appender::tick);
    }
    void start() { m_timer.start(); }
    void pause() { m_timer.stop(); }
    bool idle() const
    {
        return std::none_of(m_streams.cbegin(), m_streams.cend(), [](const auto &s) { return s.second.inFlight; });
    }
    bool finished() const
    {
        return std::all_of(m_streams.cbegin(), m_streams.cend(), [this](const auto &s) { return s.second.next > m_count + 1; });
    }
    int written(const QByteArray &id) const { return m_streams.at(id).next - 1; }
    QStringList failures;
    int retries = 0;
    // The longest a write took from its first send to its acknowledgement, retries included
    // (the router's own, on CLUSTERDOWN or a node not connected yet, and ours): the stall.
    qint64 longestWriteMs = 0;
    // '0': no SPUBLISH (a writer in this process pokes the hub instead).
    QByteArray publish = "1";
    std::function<void(const QByteArray &id)> acknowledged;

private:
    struct Stream
    {
        int next = 1;
        bool inFlight = false;
        QElapsedTimer since; // the current entry's first send
    };
    void tick()
    {
        for (auto &[id, s] : m_streams)
            if (!s.inFlight && s.next <= m_count + 1)
                write(id, s);
    }
    void write(const QByteArray &id, Stream &s)
    {
        s.inFlight = true;
        if (!s.since.isValid())
            s.since.start();
        const int n = s.next;
        const bool done = n > m_count;
        m_router->eval(kAppend, {StreamKeys::stream(id)},
                       {"1-" + QByteArray::number(n), done ? "done" : "message", done ? QByteArray() : QByteArray::number(n) + ',', publish, StreamKeys::wake(id)},
                       [this, id, n](const RedisReply &, const RedisError &error) {
                           Stream &s = m_streams[id];
                           s.inFlight = false;
                           if (error.isError() && !error.message.contains(QLatin1String("equal or smaller"))) {
                               if (!error.isRetryable())
                                   failures << error.message;
                               ++retries;
                               return; // the next tick sends the same id again
                           }
                           longestWriteMs = std::max(longestWriteMs, s.since.elapsed());
                           s.since.invalidate();
                           s.next = n + 1;
                           if (acknowledged)
                               acknowledged(id);
                       });
    }
    RedisRouter *m_router;
    int m_count;
    std::map<QByteArray, Stream> m_streams;
    QTimer m_timer;
};

// A live reader that also checks what it is given: strictly increasing ids, never one twice.
struct Reader : StreamSubscriber
{
    QList<StreamEntry> entries;
    bool ended = false;
    int outOfOrder = 0;
    void streamEntries(const QList<EntryView> &e) override
    {
        for (const EntryView &v : e) {
            if (!entries.isEmpty() && !(entries.last().id < v.id))
                ++outOfOrder;
            entries += v.toEntry();
        }
    }
    void streamEnded() override
    {
        ended = true;
        if (onEnded)
            onEnded();
    }
    std::function<void()> onEnded;
};

// XRANGE of the whole stream through the router: what a replay returns.
QList<StreamEntry> replay(RedisRouter &router, const QByteArray &id)
{
    QList<StreamEntry> out;
    bool done = false;
    router.command(StreamKeys::stream(id), {"XRANGE", StreamKeys::stream(id), "-", "+"}, [&](const RedisReply &reply, const RedisError &) {
        for (const RedisReply &e : reply.elements) {
            StreamEntry entry;
            entry.id = *EntryId::parse(e.elements.at(0).str);
            const auto &fields = e.elements.at(1).elements;
            for (qsizetype i = 0; i + 1 < fields.size(); i += 2)
                entry.fields.append({fields.at(i).str, fields.at(i + 1).str});
            out.append(entry);
        }
        done = true;
    });
    (void)QTest::qWaitFor([&] { return done; }, 10000);
    return out;
}

// The reader got exactly the replay: same ids, same texts, nothing missing or doubled.
bool sameAsReplay(RedisRouter &router, const QByteArray &id, const Reader &reader, QString *why)
{
    const QList<StreamEntry> expected = replay(router, id);
    if (reader.outOfOrder) {
        *why = QStringLiteral("%1: %2 entries out of order or doubled").arg(QString::fromLatin1(id)).arg(reader.outOfOrder);
        return false;
    }
    if (expected.size() != reader.entries.size()) {
        *why = QStringLiteral("%1: %2 entries read live, %3 in the replay").arg(QString::fromLatin1(id)).arg(reader.entries.size()).arg(expected.size());
        return false;
    }
    for (qsizetype i = 0; i < expected.size(); ++i) {
        if (expected.at(i).id != reader.entries.at(i).id || expected.at(i).field("text") != reader.entries.at(i).field("text")) {
            *why = QStringLiteral("%1: entry %2 differs").arg(QString::fromLatin1(id)).arg(i);
            return false;
        }
    }
    return true;
}

QList<QByteArray> conversations(const char *prefix, int n)
{
    QList<QByteArray> ids;
    for (int i = 0; i < n; ++i)
        ids << QByteArray(prefix) + '-' + QByteArray::number(i);
    return ids;
}

int clientsOn(const RedisCluster &cluster, quint16 port)
{
    return int(cluster.cli(port, {QStringLiteral("CLIENT"), QStringLiteral("LIST")}).count('\n')) + 1;
}
} // namespace

class TestClusterHub : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_cluster.start(), qPrintable(m_cluster.error())); }

    void init()
    {
        m_config = configOf(m_cluster.connectionString());
        m_query = std::make_unique<RedisRouter>(m_config, QStringLiteral("query"));
        m_writer = std::make_unique<RedisRouter>(m_config, QStringLiteral("writer"));
        m_query->open();
        m_writer->open();
        QTRY_VERIFY_WITH_TIMEOUT(m_query->isConnected() && m_writer->isConnected(), 10000);
        QVERIFY(m_query->isCluster());
    }

    void cleanup()
    {
        m_hub.reset();
        m_writer.reset();
        m_query.reset();
    }

    void hundredStreamsOverThreePrimaries()
    {
        startHub(60000); // no poll: wake-ups alone must carry every entry
        QCOMPARE(m_hub->connections().size(), 3); // one subscriber per primary
        QMap<quint16, int> before;
        for (int node : m_query->primaries()) {
            const quint16 port = quint16(m_query->table().nodes().at(node).port);
            before[port] = clientsOn(m_cluster, port);
        }
        const QList<QByteArray> ids = conversations("hundred", 100);
        std::vector<std::unique_ptr<Reader>> readers;
        QMap<int, int> perNode;
        for (const QByteArray &id : ids) {
            for (int k = 0; k < 2; ++k) { // two readers per stream: one read serves both
                readers.push_back(std::make_unique<Reader>());
                m_hub->subscribe(readers.back().get(), id, EntryId{});
            }
            ++perNode[m_query->nodeOf(StreamKeys::stream(id))];
        }
        QTRY_COMPARE_WITH_TIMEOUT(m_hub->wakeupSubscriptions(), 100, 10000);
        QStringList spread;
        for (auto it = perNode.cbegin(); it != perNode.cend(); ++it)
            spread << QString::number(it.value());
        qInfo("100 streams per primary: %s", qPrintable(spread.join(QLatin1Char('/'))));
        QCOMPARE(perNode.size(), 3);

        constexpr int kEntries = 30;
        Appender appender(m_writer.get(), ids, kEntries);
        QElapsedTimer t;
        t.start();
        appender.start();
        QTRY_VERIFY_WITH_TIMEOUT(allEnded(readers), 30000);
        qInfo("100 streams x %d entries + done, 200 live readers: all ended in %lld ms; %llu live reads for %d entries",
              kEntries, t.elapsed(), m_hub->remoteReads(), 100 * (kEntries + 1));
        QVERIFY2(appender.failures.isEmpty(), qPrintable(appender.failures.join(QLatin1Char('\n'))));
        expectReplays(ids, readers, kEntries);
        QCOMPARE(m_hub->liveStreamCount(), 0);
        QCOMPARE(m_hub->wokenStreamCount(), 0); // every channel unsubscribed once its stream ended
        // A fixed number of connections per node: 200 readers of 100 streams added none.
        QStringList counts;
        for (auto it = before.cbegin(); it != before.cend(); ++it) {
            const int now = clientsOn(m_cluster, it.key());
            counts << QStringLiteral("%1:%2").arg(it.key()).arg(now - 1);
            QCOMPARE(now, it.value());
        }
        qInfo("Redis clients per primary with 200 live readers (1 hub query + 1 wake-up subscriber + 1 test writer + replica link): %s",
              qPrintable(counts.join(QLatin1Char(' '))));
    }

    void joiningStreamWakesAtOnce()
    {
        startHub(60000);
        const QList<QByteArray> ids = conversations("join", 2);
        Reader first, second;
        m_hub->subscribe(&first, ids.at(0), EntryId{});
        QTRY_COMPARE(m_hub->wakeupSubscriptions(), 1);
        m_hub->subscribe(&second, ids.at(1), EntryId{});
        QTRY_COMPARE(m_hub->wakeupSubscriptions(), 2);
        Appender appender(m_writer.get(), {ids.at(1)}, 1);
        // A real event loop, not QTRY (which sleeps 10 ms between its passes over the events).
        QEventLoop loop;
        second.onEnded = [&loop] { loop.quit(); };
        QTimer::singleShot(5000, &loop, &QEventLoop::quit);
        QElapsedTimer t;
        t.start();
        appender.start();
        loop.exec();
        QVERIFY(second.ended);
        const qint64 ms = t.elapsed();
        qInfo("a stream that joined live: its entry and done (two writes, one after the other) read %lld ms after the first append (poll off)", ms);
        QVERIFY2(ms < 1000, "woken by SPUBLISH, not by a poll");
        QVERIFY(first.entries.isEmpty());
        QString why;
        QVERIFY2(sameAsReplay(*m_query, ids.at(1), second, &why), qPrintable(why));
        m_hub->unsubscribe(&first);
    }

    // Streams this process writes are read on the writer's pokes: one XREAD per slot (an XREAD
    // over several slots is CROSSSLOT), no wake-up subscription.
    void localWritesAreReadOnPokes()
    {
        startHub(60000);
        const QList<QByteArray> ids = conversations("local", 20);
        m_hub->setLocalWriter([](const QByteArray &id) { return id.startsWith("local-"); });
        const auto readers = follow(ids);
        QTRY_COMPARE(m_hub->liveStreamCount(), int(ids.size()));
        QCOMPARE(m_hub->wokenStreamCount(), 0);
        Appender appender(m_writer.get(), ids, 30);
        appender.publish = "0";
        appender.acknowledged = [this](const QByteArray &id) { m_hub->poke(id); };
        appender.start();
        QTRY_VERIFY_WITH_TIMEOUT(allEnded(readers), 30000);
        expectReplays(ids, readers, 30);
    }

    // A subscriber connection: messages that arrive while SSUBSCRIBEs are pending go to the push
    // handler, and every SSUBSCRIBE / SUNSUBSCRIBE still gets its own reply.
    void subscriberConnectionTellsMessagesFromReplies()
    {
        const QByteArray hot = StreamKeys::wake("push-hot");
        RedisConnection sub(configOf(QStringLiteral("127.0.0.1:%1").arg(m_cluster.primaryOf(hot))), QStringLiteral("sub"));
        int messages = 0, duringPending = 0;
        QList<QByteArray> others;
        sub.setPushHandler([&](const RedisReply &m) {
            if (m.elements.value(0).str != "smessage") {
                others << m.elements.value(0).str;
                return;
            }
            ++messages;
            duringPending += sub.pendingCommands() > 0 ? 1 : 0;
        });
        QSignalSpy connected(&sub, &RedisConnection::connected);
        sub.open();
        QVERIFY(connected.wait(5000));
        bool first = false;
        sub.command({"SSUBSCRIBE", hot}, [&](const RedisReply &r, const RedisError &e) { first = !e.isError() && r.elements.value(0).str == "ssubscribe"; });
        QTRY_VERIFY(first);
        constexpr int kPublished = 3000, kChannels = 300;
        int published = 0, confirmed = 0, wrong = 0;
        for (int i = 0; i < kPublished; ++i) {
            m_writer->command(hot, {"SPUBLISH", hot, QByteArray::number(i)}, [&](const RedisReply &, const RedisError &) { ++published; });
            if (i % 10 != 0)
                continue;
            const QByteArray channel = hot + '-' + QByteArray::number(i / 10); // same slot ({push-hot})
            sub.command({"SSUBSCRIBE", channel}, [&, channel](const RedisReply &r, const RedisError &e) {
                const bool mine = !e.isError() && r.elements.value(0).str == "ssubscribe" && r.elements.value(1).str == channel;
                ++(mine ? confirmed : wrong);
            });
        }
        QTRY_COMPARE_WITH_TIMEOUT(confirmed + wrong, kChannels, 10000);
        QCOMPARE(wrong, 0);
        QTRY_COMPARE(published, kPublished);
        QTRY_COMPARE(messages, kPublished);
        qInfo("%d smessages, %d of them while an SSUBSCRIBE was pending; %d SSUBSCRIBE replies all matched", messages, duringPending, confirmed);
        bool unsubscribed = false;
        sub.command({"SUNSUBSCRIBE", hot}, [&](const RedisReply &r, const RedisError &) {
            unsubscribed = r.elements.value(0).str == "sunsubscribe" && r.elements.value(1).str == hot;
        });
        QTRY_VERIFY(unsubscribed);
        QVERIFY2(others.isEmpty(), others.join(' ').constData());
    }

    // The server forgets a connection's subscriptions with it: made again on reconnect, and
    // what was appended meanwhile (announced to nobody) is read from the cursor (poll off).
    void resubscribesAfterReconnect()
    {
        startHub(60000);
        const QList<QByteArray> ids = conversations("reconnect", 6);
        const auto readers = followSubscribed(ids);
        const auto appender = appendTo(ids, 200);
        QTRY_VERIFY_WITH_TIMEOUT(appender->written(ids.at(0)) >= 20, 10000);
        for (RedisConnection *c : m_hub->connections())
            QCOMPARE(m_cluster.cli(quint16(c->peerPort()), {QStringLiteral("CLIENT"), QStringLiteral("KILL"), QStringLiteral("ID"), QString::number(c->clientId())}),
                     QByteArray("1"));
        QTRY_VERIFY_WITH_TIMEOUT(allEnded(readers), 30000);
        const QList<RedisConnection *> subscribers = m_hub->connections();
        QCOMPARE(subscribers.size(), 3);
        QVERIFY(std::all_of(subscribers.cbegin(), subscribers.cend(), [](RedisConnection *c) { return c->reconnects() == 1; }));
        expectReplays(ids, readers, 200);
    }

    void followsAStreamWhoseSlotMoves()
    {
        startHub(3000);
        const QList<QByteArray> ids = conversations("migrate", 6);
        const auto readers = followSubscribed(ids);
        const auto appender = appendTo(ids, 400);
        const QByteArray moving = ids.at(0);
        const QByteArray key = StreamKeys::stream(moving);
        QTRY_VERIFY_WITH_TIMEOUT(appender->written(moving) >= 20, 10000);

        const quint16 source = m_cluster.primaryOf(key);
        const quint16 target = m_cluster.otherPrimary(source);
        const int slot = KeySlot::slotOf(key);
        QVERIFY(m_cluster.beginMigration(slot, source, target));
        int mark = appender->written(moving);
        QTRY_VERIFY_WITH_TIMEOUT(appender->written(moving) >= mark + 10, 10000);
        QCOMPARE(m_cluster.cli(source, {QStringLiteral("MIGRATE"), QStringLiteral("127.0.0.1"), QString::number(target), QString::fromLatin1(key),
                                        QStringLiteral("0"), QStringLiteral("5000")}), QByteArray("OK"));
        // The key is on the target, the slot not yet: appends and reads follow ASK.
        mark = appender->written(moving);
        QTRY_VERIFY_WITH_TIMEOUT(appender->written(moving) >= mark + 10, 10000);
        const int readBeforeMove = int(readers[0]->entries.size());
        m_cluster.endMigration(slot, target);
        QElapsedTimer t;
        t.start();
        // The source dropped the channel (sunsubscribe): subscribed again on the target.
        QTRY_VERIFY_WITH_TIMEOUT(m_hub->wakeupSubscriptions() == int(ids.size()) && readers[0]->entries.size() > readBeforeMove + 10, 10000);
        qInfo("slot %d moved %d -> %d with the stream followed: subscribed on the target and reading again within %lld ms",
              slot, source, target, t.elapsed());
        QTRY_VERIFY_WITH_TIMEOUT(allEnded(readers), 30000);
        QVERIFY2(appender->failures.isEmpty(), qPrintable(appender->failures.join(QLatin1Char('\n'))));
        expectReplays(ids, readers, 400);
        QCOMPARE(m_cluster.primaryOf(key), target);
    }

    // Last: it leaves the cluster with one node fewer.
    void readersContinueAfterAPrimaryIsKilled()
    {
        startHub(3000);
        const QList<QByteArray> ids = conversations("failover", 30);
        const auto readers = followSubscribed(ids);
        constexpr int kEntries = 300;
        const auto appender = appendTo(ids, kEntries);
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(ids.cbegin(), ids.cend(), [&](const QByteArray &id) { return appender->written(id) >= 20; }), 10000);
        // Between two writes of every stream, replicated (WAIT): an acknowledged entry the dead
        // primary never passed on would be missing from the replay whatever the readers do.
        appender->pause();
        QTRY_VERIFY(appender->idle());
        for (int node : m_writer->primaries()) {
            bool waited = false;
            m_writer->commandOnNode(node, {"WAIT", "1", "2000"}, [&](const RedisReply &, const RedisError &) { waited = true; });
            QTRY_VERIFY(waited);
        }
        const quint16 victim = m_cluster.primaryOf(StreamKeys::stream(ids.at(0)));
        QList<int> onVictim;
        for (int i = 0; i < ids.size(); ++i)
            if (m_cluster.primaryOf(StreamKeys::stream(ids.at(i))) == victim)
                onVictim << i;
        QList<int> readBefore;
        for (int i : onVictim)
            readBefore << int(readers[i]->entries.size());
        m_cluster.kill(victim);
        QElapsedTimer t;
        t.start();
        appender->start();
        // Every reader of the killed primary's streams gets new entries again.
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(onVictim.cbegin(), onVictim.cend(), [&](int i) { return readers[i]->entries.size() > readBefore.at(onVictim.indexOf(i)); }), 30000);
        const qint64 resumed = t.elapsed();
        QTRY_VERIFY_WITH_TIMEOUT(allEnded(readers), 60000);
        const qint64 stall = appender->longestWriteMs;
        qInfo("kill -9 of primary %d (%lld streams of 30 on it): its readers read new entries again %lld ms after the kill; "
              "writes stalled up to %lld ms (%d retried); every stream ended %lld ms after the kill",
              victim, qlonglong(onVictim.size()), resumed, stall, appender->retries, t.elapsed());
        QVERIFY2(appender->failures.isEmpty(), qPrintable(appender->failures.join(QLatin1Char('\n'))));
        expectReplays(ids, readers, kEntries);
        QCOMPARE(m_hub->connections().size(), 3); // still one subscriber per primary (the promoted one now)
    }

private:
    static RedisConfig configOf(const QString &text) { return *RedisConfig::parse(text, nullptr); }

    // One live reader per stream, from the start.
    std::vector<std::unique_ptr<Reader>> follow(const QList<QByteArray> &ids)
    {
        std::vector<std::unique_ptr<Reader>> readers;
        for (const QByteArray &id : ids) {
            readers.push_back(std::make_unique<Reader>());
            m_hub->subscribe(readers.back().get(), id, EntryId{});
        }
        return readers;
    }

    // follow(), and back once every stream's wake-ups are subscribed.
    std::vector<std::unique_ptr<Reader>> followSubscribed(const QList<QByteArray> &ids)
    {
        auto readers = follow(ids);
        if (!QTest::qWaitFor([&] { return m_hub->wakeupSubscriptions() == int(ids.size()); }, 10000))
            qWarning("only %d of %lld streams subscribed", m_hub->wakeupSubscriptions(), qlonglong(ids.size()));
        return readers;
    }

    static bool allEnded(const std::vector<std::unique_ptr<Reader>> &readers)
    {
        return std::all_of(readers.cbegin(), readers.cend(), [](const auto &r) { return r->ended; });
    }

    // Every reader (readers[i] follows ids[i / readers per stream]) got exactly its stream's
    // replay: `entries` messages and the done.
    void expectReplays(const QList<QByteArray> &ids, const std::vector<std::unique_ptr<Reader>> &readers, int entries)
    {
        const size_t perStream = readers.size() / size_t(ids.size());
        for (size_t i = 0; i < readers.size(); ++i) {
            QString why;
            QVERIFY2(sameAsReplay(*m_query, ids.at(int(i / perStream)), *readers[i], &why), qPrintable(why));
            QCOMPARE(readers[i]->entries.size(), entries + 1);
        }
    }

    // An appender of `entries` messages and a done to each stream, started.
    std::unique_ptr<Appender> appendTo(const QList<QByteArray> &ids, int entries)
    {
        auto appender = std::make_unique<Appender>(m_writer.get(), ids, entries);
        appender->start();
        return appender;
    }

    void startHub(int pollMs)
    {
        m_hub = std::make_unique<StreamHub>(m_query.get(), m_config, 4);
        m_hub->setPollMs(pollMs);
        QTRY_VERIFY_WITH_TIMEOUT(m_hub->isAvailable(), 10000);
    }

    RedisCluster m_cluster;
    RedisConfig m_config;
    std::unique_ptr<RedisRouter> m_query, m_writer;
    std::unique_ptr<StreamHub> m_hub;
};

QTEST_GUILESS_MAIN(TestClusterHub)
#include "tst_clusterhub.moc"
