#pragma once

#include "redis/RedisConfig.h"
#include "redis/RedisError.h"
#include "streams/StreamEntry.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>
#include <functional>
#include <memory>

class RedisConnection;
class RedisRouter;
class WakeupSubscriber;
struct RedisReply;
struct redisReply;

// Receives a conversation's entries from the hub. Calls arrive on the hub's thread.
class StreamSubscriber
{
public:
    virtual ~StreamSubscriber() = default;
    // Entries strictly after the subscriber's cursor, in order, never twice. The views are
    // valid only during the call (they may point into Redis's reply): copy what you keep.
    virtual void streamEntries(const QList<EntryView> &entries) = 0;
    // The newest entry is a terminal one (done/error): nothing more will come. The hub has
    // already forgotten the subscriber when this is called; the subscriber may delete itself.
    virtual void streamEnded() = 0;
    // The replay reached the newest entry; what follows comes live. Called once per
    // subscribe() for a stream that has not ended.
    virtual void streamCaughtUp() {}
    // Back-pressure for replays: while false the hub holds further catch-up batches until
    // StreamHub::resume() is called.
    virtual bool readyForMore() const { return true; }
};

// The read side of the durable log: replay after a cursor, then follow live.
//
// Replays read in batches (XRANGE, exclusive start) on the query router. Live following
// has two paths, and one read of a stream serves every subscriber following it (fan-out):
//  - streams written by THIS process are read when the writer reports a write (poke()): one
//    non-blocking XREAD for all streams written in the same event-loop turn (on a cluster, one
//    per slot: an XREAD over several slots is CROSSSLOT);
//  - streams written elsewhere, on one server: a FIXED pool of blocking connections, each
//    carrying ONE `XREAD BLOCK` over every such stream assigned to it; a stream joining a
//    blocked read interrupts it with CLIENT UNBLOCK, so new readers never wait for the block
//    timeout;
//  - streams written elsewhere, on a Redis Cluster (no XREAD BLOCK across slots): ONE
//    subscriber connection per primary (WakeupSubscriber) listens to the writers' SPUBLISH
//    wake-ups; each wake-up, and each (re)confirmed subscription, reads the stream from its
//    live cursor with a non-blocking XREAD on the query router, at most one read in flight per
//    stream (one more if woken meanwhile). A slow poll (pollMs) reads idle streams too, since
//    pub/sub may lose a wake-up (failover). A moved slot or a failover resubscribes and reads
//    from the cursor: no gap, and no duplicate (deliveries never go back past a cursor).
// The hub makes its own reader connections once the router is ready; their number does not
// grow with the number of subscribers.
//
//   hub->subscribe(this, conversationId, cursor);   // -> streamEntries()..., streamEnded()
//   hub->unsubscribe(this);                         // idempotent; call before deleting
class StreamHub : public QObject
{
    Q_OBJECT
public:
    // readerConnections: the blocking pool on one server (a cluster has one subscriber per primary).
    StreamHub(RedisRouter *query, const RedisConfig &config, int readerConnections, QObject *parent = nullptr);
    ~StreamHub() override;

    void subscribe(StreamSubscriber *subscriber, const QByteArray &conversationId, const EntryId &after);
    // A conversation this process has only just started writing (none of it acknowledged yet):
    // followed live from its first entry, with no replay and no read, since everything it
    // will hold arrives with the writer's acknowledgements (deliverLocal). Any other
    // conversation takes subscribe() from the start.
    void followNew(StreamSubscriber *subscriber, const QByteArray &conversationId);
    void unsubscribe(StreamSubscriber *subscriber);
    void resume(StreamSubscriber *subscriber);
    // Says which conversations this process writes itself (their writes arrive by poke()).
    void setLocalWriter(std::function<bool(const QByteArray &conversationId)> isLocal) { m_isLocal = std::move(isLocal); }
    // The local writer stopped writing this conversation: its live subscribers move to the
    // blocking reads (the next turn may run in another process).
    void localWriterStopped(const QByteArray &conversationId);
    // New entries were stored for this conversation: read them for its live subscribers.
    void poke(const QByteArray &conversationId);
    // Entries this process just stored, directly after `previous`: delivered without reading
    // them back when the live position is `previous`, else read from Redis (poke).
    void deliverLocal(const QByteArray &conversationId, const EntryId &previous, const QList<StreamEntry> &entries);

    // Query and every reader connection are up.
    bool isAvailable() const;
    // The hub's own reader connections (blocking readers, or one subscriber per primary).
    QList<RedisConnection *> connections() const;
    int subscriberCount() const { return int(m_subs.size()); }
    int liveStreamCount() const { return int(m_live.size()); }
    // Streams followed through wake-ups (cluster), and how many of those are subscribed now.
    int wokenStreamCount() const;
    int wakeupSubscriptions() const;
    // Live reads of remote streams on a cluster (wake-ups, subscriptions and polls).
    quint64 remoteReads() const { return m_remoteReads; }
    void setBlockMs(int ms) { m_blockMs = ms; }
    void setBatchSize(int n) { m_batch = n; }
    void setPollMs(int ms);

Q_SIGNALS:
    void availabilityChanged(bool available);

private:
    void updateAvailability();
    bool m_available = false;
    struct Sub
    {
        StreamSubscriber *subscriber = nullptr;
        QByteArray key;
        QByteArray conversationId;
        EntryId cursor;
        quint64 token = 0;
        bool live = false;
        bool requestInFlight = false;
        bool parked = false;
        bool lastTerminal = false;
        bool firstBatch = true;
    };
    struct Live
    {
        EntryId cursor;
        QList<StreamSubscriber *> subs;
        QByteArray conversationId;
        int reader = kLocal; // blocking connection index, kLocal or kWoken
        quint64 generation = 0; // tells a read's reply whether this is still the same follow
        bool readInFlight = false; // kWoken: a read from the cursor is out
        bool readAgain = false;    // kWoken: woken while it was out: one more read
        qint64 lastReadMs = 0;
    };
    static constexpr int kLocal = -1; // written here, read on poke()
    static constexpr int kWoken = -2; // cluster: read on wake-ups (WakeupSubscriber)
    struct Reader
    {
        RedisConnection *connection = nullptr;
        QSet<QByteArray> keys;
        bool inFlight = false;
        bool unblockPending = false;
        quint64 generation = 0;
    };

    void catchUp(Sub *sub);
    void onCatchUp(StreamSubscriber *s, quint64 token, const redisReply *reply, const RedisError &error);
    void deliverStreams(const redisReply *streams, QSet<QByteArray> *more);
    void fanOut(Live &live, const QList<EntryView> &entries, bool atHead);
    void assignReader(const QByteArray &key, Live &live);
    void flushPokes();
    void readPoked(const QList<QByteArray> &keys);
    void onRouterReady();
    void resumeWaiting();
    void readRemote(const QByteArray &key);
    void onWoken(const QByteArray &conversationId, const QByteArray &lastId);
    void pollRemote();
    Sub &newSub(StreamSubscriber *subscriber, const QByteArray &conversationId, const EntryId &after); // replaces any old one
    void goLive(Sub *sub, bool fresh = false);
    void issueRead(int reader);
    void onRead(int reader, const redisReply *reply, const RedisError &error);
    void unblock(int reader, quint64 generation, int attempt);
    void deliver(Sub *sub, const QList<EntryView> &entries, bool atHead);
    static void traceDelivery(const QByteArray &conversationId, const QList<EntryView> &entries);
    void dropLiveKey(const QByteArray &key, StreamSubscriber *s);
    Sub *find(StreamSubscriber *s, quint64 token);

    RedisRouter *m_query;
    RedisConfig m_config; // for the reader connections, made once the router is ready
    int m_readerCount;
    QList<Reader> m_readers;
    WakeupSubscriber *m_wakeups = nullptr; // cluster mode
    QTimer *m_pollTimer = nullptr;
    QHash<StreamSubscriber *, Sub> m_subs;
    QHash<QByteArray, Live> m_live;
    QSet<StreamSubscriber *> m_waitingForQuery;
    std::function<bool(const QByteArray &)> m_isLocal;
    QSet<QByteArray> m_pokes; // stream keys
    int m_pokesInFlight = 0;
    bool m_pokeScheduled = false;
    quint64 m_remoteReads = 0;
    int m_pollMs = 3000;
    quint64 m_nextToken = 1;
    int m_blockMs = 5000;
    int m_batch = 4000;
};
