#pragma once

#include "redis/RedisError.h"
#include "streams/StreamEntry.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <functional>
#include <memory>

class RedisConnection;
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
// Replays read in batches (XRANGE, exclusive start) on the query connection. Live following
// has two paths, and one read of a stream serves every subscriber following it (fan-out):
//  - streams written by THIS process are read when the writer reports a write (poke()): one
//    non-blocking XREAD for all streams written in the same event-loop turn;
//  - streams written elsewhere share a FIXED pool of blocking connections: each carries ONE
//    `XREAD BLOCK` over every such stream assigned to it; a stream joining a blocked read
//    interrupts it with CLIENT UNBLOCK, so new readers never wait for the block timeout.
// Redis connections do not grow with the number of subscribers.
//
//   hub->subscribe(this, conversationId, cursor);   // -> streamEntries()..., streamEnded()
//   hub->unsubscribe(this);                         // idempotent; call before deleting
class StreamHub : public QObject
{
    Q_OBJECT
public:
    StreamHub(RedisConnection *query, const QList<RedisConnection *> &blocking, QObject *parent = nullptr);
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

    // Query and every blocking connection are up.
    bool isAvailable() const;
    int subscriberCount() const { return int(m_subs.size()); }
    int liveStreamCount() const { return int(m_live.size()); }
    void setBlockMs(int ms) { m_blockMs = ms; }
    void setBatchSize(int n) { m_batch = n; }

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
        int reader = -1; // blocking connection; -1 = written here, read on poke()
    };
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
    Sub &newSub(StreamSubscriber *subscriber, const QByteArray &conversationId, const EntryId &after); // replaces any old one
    void goLive(Sub *sub, bool fresh = false);
    void issueRead(int reader);
    void onRead(int reader, const redisReply *reply, const RedisError &error);
    void unblock(int reader, quint64 generation, int attempt);
    void deliver(Sub *sub, const QList<EntryView> &entries, bool atHead);
    static void traceDelivery(const QByteArray &conversationId, const QList<EntryView> &entries);
    void dropLiveKey(const QByteArray &key, StreamSubscriber *s);
    Sub *find(StreamSubscriber *s, quint64 token);

    RedisConnection *m_query;
    QList<Reader> m_readers;
    QHash<StreamSubscriber *, Sub> m_subs;
    QHash<QByteArray, Live> m_live;
    QSet<StreamSubscriber *> m_waitingForQuery;
    std::function<bool(const QByteArray &)> m_isLocal;
    QSet<QByteArray> m_pokes; // stream keys
    bool m_pokeInFlight = false;
    bool m_pokeScheduled = false;
    quint64 m_nextToken = 1;
    int m_blockMs = 5000;
    int m_batch = 4000;
};
