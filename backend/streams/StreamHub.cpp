#include "streams/StreamHub.h"

#include "HopTrace.h"
#include "redis/RedisConnection.h"
#include "redis/RedisRouter.h"
#include "streams/WakeupSubscriber.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QTimer>

#include <hiredis/hiredis.h>

Q_LOGGING_CATEGORY(lcHub, "agentstreams.streams.hub")

namespace {
constexpr int kLiveCount = 1000;      // XREAD COUNT per stream per read
constexpr int kUnblockAttempts = 40;  // CLIENT UNBLOCK retries while the XREAD is still in transit
constexpr int kRetryMs = 100;         // a read refused with a transient error (LOADING, BUSY) is sent again after this
} // namespace

StreamHub::StreamHub(RedisRouter *query, const RedisConfig &config, int readerConnections, QObject *parent)
    : QObject(parent)
    , m_query(query)
    , m_config(config)
    , m_readerCount(qMax(1, readerConnections))
{
    connect(m_query, &RedisRouter::disconnected, this, &StreamHub::updateAvailability);
    connect(m_query, &RedisRouter::connected, this, [this] {
        updateAvailability();
        // Pokes lost with the old connection: read every locally written stream once more.
        for (auto it = m_live.cbegin(); it != m_live.cend(); ++it)
            if (it->reader == kLocal)
                m_pokes.insert(it.key());
        m_pokesInFlight = 0;
        flushPokes();
        resumeWaiting();
    });
    // A cluster: one node back, or a slot served elsewhere, lets the replays of its keys go on.
    connect(m_query, &RedisRouter::connectionChanged, this, &StreamHub::resumeWaiting);
    connect(m_query, &RedisRouter::topologyChanged, this, &StreamHub::resumeWaiting);
    if (m_query->isReady())
        onRouterReady();
    else
        connect(m_query, &RedisRouter::ready, this, &StreamHub::onRouterReady, Qt::SingleShotConnection);
}

// The mode is known: a blocking pool on one server, one subscriber per primary on a cluster.
void StreamHub::onRouterReady()
{
    if (m_query->isCluster()) {
        m_wakeups = new WakeupSubscriber(m_query, this);
        connect(m_wakeups, &WakeupSubscriber::availabilityChanged, this, &StreamHub::updateAvailability);
        connect(m_wakeups, &WakeupSubscriber::subscribed, this, [this](const QByteArray &id) { readRemote(StreamKeys::stream(id)); });
        connect(m_wakeups, &WakeupSubscriber::woken, this, &StreamHub::onWoken);
        m_pollTimer = new QTimer(this);
        m_pollTimer->setInterval(qMax(100, m_pollMs / 2));
        connect(m_pollTimer, &QTimer::timeout, this, &StreamHub::pollRemote);
        m_pollTimer->start();
        updateAvailability();
        return;
    }
    for (int i = 0; i < m_readerCount; ++i) {
        Reader r;
        r.connection = new RedisConnection(m_config, QStringLiteral("reader-%1").arg(i), this);
        m_readers.append(r);
        connect(r.connection, &RedisConnection::connected, this, [this, i] {
            issueRead(i);
            updateAvailability();
        });
        connect(r.connection, &RedisConnection::disconnected, this, [this, i] {
            m_readers[i].inFlight = false;
            updateAvailability();
        });
        r.connection->open();
    }
    updateAvailability();
}

void StreamHub::resumeWaiting()
{
    const auto waiting = m_waitingForQuery;
    for (StreamSubscriber *s : waiting) {
        auto it = m_subs.find(s);
        if (it == m_subs.end() || it->live) {
            m_waitingForQuery.remove(s);
        } else if (m_query->isConnected(it->key)) {
            m_waitingForQuery.remove(s);
            catchUp(&it.value());
        }
    }
}

void StreamHub::setPollMs(int ms)
{
    m_pollMs = ms;
    if (m_pollTimer)
        m_pollTimer->setInterval(qMax(100, ms / 2));
}

QList<RedisConnection *> StreamHub::connections() const
{
    if (m_wakeups)
        return m_wakeups->connections();
    QList<RedisConnection *> out;
    for (const Reader &r : m_readers)
        out.append(r.connection);
    return out;
}

int StreamHub::wokenStreamCount() const
{
    return m_wakeups ? m_wakeups->followedCount() : 0;
}

int StreamHub::wakeupSubscriptions() const
{
    return m_wakeups ? m_wakeups->subscribedCount() : 0;
}

StreamHub::~StreamHub() = default;

bool StreamHub::isAvailable() const
{
    if (!m_query->isConnected())
        return false;
    if (m_wakeups)
        return m_wakeups->isAvailable();
    if (m_readers.isEmpty())
        return false; // the router is not ready yet
    for (const Reader &r : m_readers)
        if (!r.connection->isConnected())
            return false;
    return true;
}

void StreamHub::updateAvailability()
{
    const bool now = isAvailable();
    if (now != m_available) {
        m_available = now;
        Q_EMIT availabilityChanged(now);
    }
}

StreamHub::Sub &StreamHub::newSub(StreamSubscriber *subscriber, const QByteArray &conversationId, const EntryId &after)
{
    unsubscribe(subscriber);
    Sub &sub = m_subs[subscriber];
    sub.subscriber = subscriber;
    sub.key = StreamKeys::stream(conversationId);
    sub.conversationId = conversationId;
    sub.cursor = after;
    sub.token = m_nextToken++;
    return sub;
}

void StreamHub::subscribe(StreamSubscriber *subscriber, const QByteArray &conversationId, const EntryId &after)
{
    catchUp(&newSub(subscriber, conversationId, after));
}

void StreamHub::followNew(StreamSubscriber *subscriber, const QByteArray &conversationId)
{
    if (!(m_isLocal && m_isLocal(conversationId)) || m_live.contains(StreamKeys::stream(conversationId))) {
        subscribe(subscriber, conversationId, EntryId{});
        return;
    }
    Sub &sub = newSub(subscriber, conversationId, EntryId{});
    sub.firstBatch = false;
    goLive(&sub, true);
}

void StreamHub::unsubscribe(StreamSubscriber *subscriber)
{
    auto it = m_subs.find(subscriber);
    if (it == m_subs.end())
        return;
    if (it->live)
        dropLiveKey(it->key, subscriber);
    m_waitingForQuery.remove(subscriber);
    m_subs.erase(it);
}

void StreamHub::resume(StreamSubscriber *subscriber)
{
    auto it = m_subs.find(subscriber);
    if (it == m_subs.end() || !it->parked)
        return;
    it->parked = false;
    catchUp(&it.value());
}

StreamHub::Sub *StreamHub::find(StreamSubscriber *s, quint64 token)
{
    auto it = m_subs.find(s);
    return it != m_subs.end() && it->token == token ? &it.value() : nullptr;
}

void StreamHub::catchUp(Sub *sub)
{
    if (sub->requestInFlight)
        return;
    if (!sub->subscriber->readyForMore()) {
        sub->parked = true;
        return;
    }
    if (!m_query->isConnected(sub->key)) {
        m_waitingForQuery.insert(sub->subscriber);
        return;
    }
    // The first batch starts AT the cursor (inclusive) so that we learn whether the entry the
    // client already has was the terminal one: then the replay ends at once.
    const bool inclusive = sub->firstBatch && !sub->cursor.isNull();
    const QByteArray start = inclusive ? sub->cursor.toBytes() : '(' + sub->cursor.toBytes();
    sub->requestInFlight = true;
    StreamSubscriber *s = sub->subscriber;
    const quint64 token = sub->token;
    m_query->commandRaw({"XRANGE", sub->key, start, "+", "COUNT", QByteArray::number(m_batch + (inclusive ? 1 : 0))},
                        [this, s, token](const redisReply *reply, const RedisError &error) { onCatchUp(s, token, reply, error); });
}

void StreamHub::onCatchUp(StreamSubscriber *s, quint64 token, const redisReply *reply, const RedisError &error)
{
    Sub *sub = find(s, token);
    if (!sub)
        return;
    sub->requestInFlight = false;
    if (error.isError()) {
        if (error.isConnectionError()) {
            m_waitingForQuery.insert(s);
            return;
        }
        qCWarning(lcHub).noquote() << "replay of" << sub->key << "failed:" << error.message
                                   << (error.isTransientReply() ? "- retrying" : "");
        if (error.isTransientReply()) { // e.g. LOADING after a restart: the reader waits
            QTimer::singleShot(kRetryMs, this, [this, s, token] {
                Sub *again = find(s, token);
                if (again && !again->requestInFlight && !again->live)
                    catchUp(again);
            });
        }
        return;
    }
    if (!sub->firstBatch && !s->readyForMore()) {
        // A batch asked for ahead of time, and the client has not taken the last one yet:
        // forget it (the cursor did not move) and read it again on resume().
        sub->parked = true;
        return;
    }
    QList<EntryView> entries = EntryView::ofReply(reply);
    const bool inclusive = sub->firstBatch && !sub->cursor.isNull();
    const bool full = entries.size() >= m_batch + (inclusive ? 1 : 0);
    sub->firstBatch = false;
    if (inclusive && !entries.isEmpty() && entries.first().id == sub->cursor) {
        sub->lastTerminal = entries.first().isTerminal();
        entries.removeFirst();
    }
    if (full) {
        // Ask for the next batch before framing this one: Redis reads it meanwhile.
        sub->cursor = entries.last().id;
        catchUp(sub);
        deliver(sub, entries, false);
        return;
    }
    auto live = m_live.constFind(sub->key);
    const bool atHead = live == m_live.constEnd() || live->cursor <= (entries.isEmpty() ? sub->cursor : entries.last().id);
    deliver(sub, entries, atHead);
    if (!(sub = find(s, token)))
        return;
    if (!atHead) {
        catchUp(sub); // the live reader moved on while we replayed: read up to it first
    } else if (!s->readyForMore()) {
        // Caught up, but the replay is still in the client's queue: live entries now would
        // find it far behind and drop it as a slow client. It goes live once it has taken the
        // replay (resume() reads what was added meanwhile first).
        sub->parked = true;
    } else {
        goLive(sub);
    }
}

// Profiling (HopTrace): the traced entries among these reach a subscriber now.
void StreamHub::traceDelivery(const QByteArray &conversationId, const QList<EntryView> &entries)
{
    int last = -1;
    for (const EntryView &e : entries) {
        const int slot = HopTrace::find(conversationId, e.id);
        if (slot >= 0) {
            HopTrace::mark(slot, HopTrace::Delivered);
            last = slot;
        }
    }
    HopTrace::setCurrent(last);
}

void StreamHub::deliver(Sub *sub, const QList<EntryView> &entries, bool atHead)
{
    StreamSubscriber *s = sub->subscriber;
    if (!entries.isEmpty()) {
        sub->cursor = entries.last().id;
        sub->lastTerminal = entries.last().isTerminal();
        const quint64 token = sub->token;
        if (HopTrace::on())
            traceDelivery(sub->conversationId, entries);
        s->streamEntries(entries);
        HopTrace::setCurrent(-1);
        sub = find(s, token); // the subscriber may have left inside the call
        if (!sub)
            return;
    }
    if (atHead && sub->lastTerminal) {
        unsubscribe(s);
        s->streamEnded();
    }
}

// fresh: followNew(), nothing can be stored yet, so there is nothing to read and the
// subscriber learns nothing by being told it caught up (its first entries are on their way).
void StreamHub::goLive(Sub *sub, bool fresh)
{
    auto it = m_live.find(sub->key);
    const bool created = it == m_live.end();
    if (created) {
        Live live;
        live.cursor = sub->cursor;
        live.conversationId = sub->conversationId;
        it = m_live.insert(sub->key, live);
    }
    StreamSubscriber *subscriber = sub->subscriber;
    it->subs.append(subscriber);
    sub->live = true;
    if (fresh)
        return;
    if (created) {
        if (m_isLocal && m_isLocal(sub->conversationId))
            poke(sub->conversationId); // a write may have landed between the replay and now
        else
            assignReader(sub->key, it.value());
    }
    subscriber->streamCaughtUp(); // last: the subscriber may leave inside
}

void StreamHub::assignReader(const QByteArray &key, Live &live)
{
    if (m_wakeups) {
        // Read once the subscription is confirmed (subscribed), then on every wake-up.
        live.reader = kWoken;
        live.generation = m_nextToken++;
        live.lastReadMs = QDateTime::currentMSecsSinceEpoch(); // the subscription's read comes first
        m_wakeups->follow(live.conversationId);
        return;
    }
    if (m_readers.isEmpty())
        return;
    int best = 0;
    for (int i = 1; i < m_readers.size(); ++i)
        if (m_readers[i].keys.size() < m_readers[best].keys.size())
            best = i;
    live.reader = best;
    Reader &reader = m_readers[best];
    reader.keys.insert(key);
    if (reader.inFlight)
        unblock(best, reader.generation, 0);
    else
        issueRead(best);
}

void StreamHub::localWriterStopped(const QByteArray &conversationId)
{
    auto it = m_live.find(StreamKeys::stream(conversationId));
    if (it != m_live.end() && it->reader == kLocal)
        assignReader(it.key(), it.value()); // whatever comes next is written elsewhere
}

void StreamHub::poke(const QByteArray &conversationId)
{
    const QByteArray key = StreamKeys::stream(conversationId);
    if (!m_live.contains(key))
        return;
    m_pokes.insert(key);
    if (!m_pokeScheduled && m_pokesInFlight == 0) {
        m_pokeScheduled = true;
        QTimer::singleShot(0, this, &StreamHub::flushPokes);
    }
}

void StreamHub::flushPokes()
{
    m_pokeScheduled = false;
    if (m_pokesInFlight > 0 || m_pokes.isEmpty())
        return;
    if (!m_query->isCluster() && !m_query->isConnected())
        return; // the query connection's `connected` flushes them (a cluster router waits per node itself)
    // One XREAD for all on one server; one per slot on a cluster.
    QHash<int, QList<QByteArray>> groups;
    const bool cluster = m_query->isCluster();
    for (const QByteArray &key : std::as_const(m_pokes))
        if (m_live.contains(key))
            groups[cluster ? KeySlot::slotOf(key) : 0].append(key);
    m_pokes.clear();
    for (const QList<QByteArray> &keys : std::as_const(groups))
        readPoked(keys);
}

void StreamHub::readPoked(const QList<QByteArray> &keys)
{
    QList<QByteArray> args;
    args.reserve(4 + keys.size() * 2);
    args << "XREAD" << "COUNT" << QByteArray::number(kLiveCount) << "STREAMS";
    args += keys;
    for (const QByteArray &key : keys)
        args << m_live.constFind(key)->cursor.toBytes();
    ++m_pokesInFlight;
    m_query->commandRaw(args, [this, keys](const redisReply *reply, const RedisError &error) {
        m_pokesInFlight = qMax(0, m_pokesInFlight - 1);
        QSet<QByteArray> more;
        if (!error.isError()) {
            deliverStreams(reply, &more);
        } else if (error.isRetryable()) {
            // Not read (LOADING, a dropped connection): read these streams again shortly,
            // their followers are waiting for exactly these entries.
            for (const QByteArray &key : keys)
                m_pokes.insert(key);
            if (!m_pokeScheduled) {
                m_pokeScheduled = true;
                QTimer::singleShot(kRetryMs, this, &StreamHub::flushPokes);
            }
            return;
        }
        for (const QByteArray &key : std::as_const(more))
            m_pokes.insert(key);
        if (!m_pokes.isEmpty() && !m_pokeScheduled)
            flushPokes();
    });
}

// Cluster: what the stream holds after its live cursor, read without blocking. One read in
// flight per stream; a wake-up meanwhile asks for one more.
void StreamHub::readRemote(const QByteArray &key)
{
    auto it = m_live.find(key);
    if (it == m_live.end() || it->reader != kWoken)
        return;
    if (it->readInFlight) {
        it->readAgain = true;
        return;
    }
    it->readInFlight = true;
    it->readAgain = false;
    it->lastReadMs = QDateTime::currentMSecsSinceEpoch();
    ++m_remoteReads;
    const quint64 generation = it->generation;
    m_query->commandRaw({"XREAD", "COUNT", QByteArray::number(kLiveCount), "STREAMS", key, it->cursor.toBytes()},
                        [this, key, generation](const redisReply *reply, const RedisError &error) {
                            auto it = m_live.find(key);
                            if (it == m_live.end() || it->generation != generation)
                                return; // no longer followed this way
                            it->readInFlight = false;
                            if (error.isError()) {
                                // A failover or a moving slot beyond the router's retries: again
                                // shortly, from the same cursor.
                                if (!error.isConnectionError())
                                    qCWarning(lcHub).noquote() << "live read of" << key << "failed:" << error.message << "- retrying";
                                QTimer::singleShot(kRetryMs, this, [this, key, generation] {
                                    auto again = m_live.constFind(key);
                                    if (again != m_live.constEnd() && again->generation == generation)
                                        readRemote(key);
                                });
                                return;
                            }
                            QSet<QByteArray> more;
                            deliverStreams(reply, &more);
                            it = m_live.find(key); // delivery may have ended the follow
                            if (it != m_live.end() && it->generation == generation && (it->readAgain || more.contains(key)))
                                readRemote(key);
                        });
}

void StreamHub::onWoken(const QByteArray &conversationId, const QByteArray &lastId)
{
    const QByteArray key = StreamKeys::stream(conversationId);
    auto it = m_live.constFind(key);
    if (it == m_live.constEnd())
        return;
    const std::optional<EntryId> id = EntryId::parse(lastId);
    if (id && *id <= it->cursor && !it->readInFlight)
        return; // read already (a wake-up for entries an earlier read brought)
    readRemote(key);
}

// The safety net under fire-and-forget wake-ups: a stream not read for pollMs is read anyway.
void StreamHub::pollRemote()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QList<QByteArray> due;
    for (auto it = m_live.cbegin(); it != m_live.cend(); ++it)
        if (it->reader == kWoken && !it->readInFlight && now - it->lastReadMs >= m_pollMs)
            due.append(it.key());
    for (const QByteArray &key : std::as_const(due))
        readRemote(key);
}

void StreamHub::dropLiveKey(const QByteArray &key, StreamSubscriber *s)
{
    auto it = m_live.find(key);
    if (it == m_live.end())
        return;
    it->subs.removeOne(s);
    if (it->subs.isEmpty()) {
        if (it->reader >= 0)
            m_readers[it->reader].keys.remove(key);
        else if (it->reader == kWoken && m_wakeups)
            m_wakeups->unfollow(it->conversationId);
        m_live.erase(it);
    }
}

void StreamHub::issueRead(int index)
{
    Reader &reader = m_readers[index];
    if (reader.inFlight || reader.keys.isEmpty() || !reader.connection->isConnected())
        return;
    QList<QByteArray> args;
    args.reserve(6 + reader.keys.size() * 2);
    args << "XREAD" << "COUNT" << QByteArray::number(kLiveCount) << "BLOCK" << QByteArray::number(m_blockMs) << "STREAMS";
    QList<QByteArray> ids;
    ids.reserve(reader.keys.size());
    for (const QByteArray &key : std::as_const(reader.keys)) {
        auto live = m_live.constFind(key);
        args << key;
        ids << (live == m_live.constEnd() ? QByteArray("$") : live->cursor.toBytes());
    }
    args += ids;
    reader.inFlight = true;
    reader.unblockPending = false;
    ++reader.generation;
    reader.connection->commandRaw(args, [this, index](const redisReply *reply, const RedisError &error) { onRead(index, reply, error); });
}

void StreamHub::unblock(int index, quint64 generation, int attempt)
{
    Reader &reader = m_readers[index];
    if (!reader.inFlight || reader.generation != generation || (attempt == 0 && reader.unblockPending))
        return;
    const qint64 clientId = reader.connection->clientId();
    if (clientId < 0 || !m_query->isConnected())
        return; // the block timeout bounds the wait
    reader.unblockPending = true;
    m_query->command({"CLIENT", "UNBLOCK", QByteArray::number(clientId)},
                     [this, index, generation, attempt](const RedisReply &reply, const RedisError &error) {
                         // 0 = the XREAD had not reached the server yet (or already returned):
                         // try again shortly while the same read is still outstanding.
                         if (!error.isError() && reply.integer == 0 && attempt < kUnblockAttempts)
                             QTimer::singleShot(1, this, [this, index, generation, attempt] { unblock(index, generation, attempt + 1); });
                     });
}

void StreamHub::onRead(int index, const redisReply *reply, const RedisError &error)
{
    Reader &reader = m_readers[index];
    reader.inFlight = false;
    if (error.isError()) {
        if (!error.isConnectionError()) {
            qCWarning(lcHub).noquote() << "live read failed:" << error.message << "- retrying";
            QTimer::singleShot(kRetryMs, this, [this, index] { issueRead(index); });
        }
        return; // connection errors: the connected signal issues the next read
    }
    QSet<QByteArray> more;
    deliverStreams(reply, &more);
    issueRead(index);
}

// An XREAD reply: [[key, [[id, [field, value, ...]], ...]], ...] (nil when nothing is new).
void StreamHub::deliverStreams(const redisReply *reply, QSet<QByteArray> *more)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t s = 0; s < reply->elements; ++s) {
        const redisReply *stream = reply->element[s];
        if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 || stream->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const QByteArray key(stream->element[0]->str, qsizetype(stream->element[0]->len));
        auto live = m_live.find(key);
        if (live == m_live.end())
            continue;
        const QList<EntryView> entries = EntryView::ofReply(stream->element[1]);
        if (entries.isEmpty())
            continue;
        const bool atHead = entries.size() < kLiveCount;
        if (!atHead)
            more->insert(key);
        fanOut(live.value(), entries, atHead);
    }
}

void StreamHub::deliverLocal(const QByteArray &conversationId, const EntryId &previous, const QList<StreamEntry> &entries)
{
    auto live = m_live.find(StreamKeys::stream(conversationId));
    if (live == m_live.end() || entries.isEmpty())
        return;
    if (live->cursor < previous) {
        poke(conversationId); // something between our position and these entries: read it
        return;
    }
    fanOut(live.value(), EntryView::of(entries), true);
}

void StreamHub::fanOut(Live &live, const QList<EntryView> &entries, bool atHead)
{
    if (live.cursor < entries.last().id)
        live.cursor = entries.last().id;
    {
        const QList<StreamSubscriber *> subs = live.subs; // delivery may change the list (and `live`)
        for (StreamSubscriber *sub : subs) {
            auto it = m_subs.find(sub);
            if (it == m_subs.end() || !it->live)
                continue;
            Sub *state = &it.value();
            if (state->cursor >= entries.last().id)
                continue;
            if (state->cursor < entries.first().id) {
                deliver(state, entries, atHead);
            } else {
                QList<EntryView> tail;
                for (const EntryView &e : entries)
                    if (e.id > state->cursor)
                        tail.append(e);
                deliver(state, tail, atHead);
            }
        }
    }
}
