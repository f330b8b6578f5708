#include "streams/StreamHub.h"

#include "HopTrace.h"
#include "redis/RedisConnection.h"

#include <QLoggingCategory>
#include <QTimer>

#include <hiredis/hiredis.h>

Q_LOGGING_CATEGORY(lcHub, "agentstreams.streams.hub")

namespace {
constexpr int kLiveCount = 1000;      // XREAD COUNT per stream per read
constexpr int kUnblockAttempts = 40;  // CLIENT UNBLOCK retries while the XREAD is still in transit
constexpr int kRetryMs = 100;         // a read refused with a transient error (LOADING, BUSY) is sent again after this
} // namespace

StreamHub::StreamHub(RedisConnection *query, const QList<RedisConnection *> &blocking, QObject *parent)
    : QObject(parent)
    , m_query(query)
{
    for (RedisConnection *c : blocking) {
        Reader r;
        r.connection = c;
        const int index = int(m_readers.size());
        m_readers.append(r);
        connect(c, &RedisConnection::connected, this, [this, index] {
            issueRead(index);
            updateAvailability();
        });
        connect(c, &RedisConnection::disconnected, this, [this, index] {
            m_readers[index].inFlight = false;
            updateAvailability();
        });
    }
    connect(m_query, &RedisConnection::disconnected, this, &StreamHub::updateAvailability);
    connect(m_query, &RedisConnection::connected, this, [this] {
        updateAvailability();
        // Pokes lost with the old connection: read every locally written stream once more.
        for (auto it = m_live.cbegin(); it != m_live.cend(); ++it)
            if (it->reader < 0)
                m_pokes.insert(it.key());
        m_pokeInFlight = false;
        flushPokes();
        const auto waiting = m_waitingForQuery;
        m_waitingForQuery.clear();
        for (StreamSubscriber *s : waiting) {
            auto it = m_subs.find(s);
            if (it != m_subs.end() && !it->live)
                catchUp(&it.value());
        }
    });
}

StreamHub::~StreamHub() = default;

bool StreamHub::isAvailable() const
{
    if (!m_query->isConnected())
        return false;
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
    if (!m_query->isConnected()) {
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
    if (it != m_live.end() && it->reader < 0)
        assignReader(it.key(), it.value()); // whatever comes next is written elsewhere
}

void StreamHub::poke(const QByteArray &conversationId)
{
    const QByteArray key = StreamKeys::stream(conversationId);
    if (!m_live.contains(key))
        return;
    m_pokes.insert(key);
    if (!m_pokeScheduled && !m_pokeInFlight) {
        m_pokeScheduled = true;
        QTimer::singleShot(0, this, &StreamHub::flushPokes);
    }
}

void StreamHub::flushPokes()
{
    m_pokeScheduled = false;
    if (m_pokeInFlight || m_pokes.isEmpty())
        return;
    if (!m_query->isConnected())
        return; // the query connection's `connected` flushes them
    QList<QByteArray> args;
    args.reserve(4 + m_pokes.size() * 2);
    args << "XREAD" << "COUNT" << QByteArray::number(kLiveCount) << "STREAMS";
    QList<QByteArray> ids;
    for (const QByteArray &key : std::as_const(m_pokes)) {
        auto live = m_live.constFind(key);
        if (live == m_live.constEnd())
            continue;
        args << key;
        ids << live->cursor.toBytes();
    }
    m_pokes.clear();
    if (ids.isEmpty())
        return;
    args += ids;
    m_pokeInFlight = true;
    const qsizetype keys = ids.size();
    m_query->commandRaw(args, [this, args, keys](const redisReply *reply, const RedisError &error) {
        m_pokeInFlight = false;
        QSet<QByteArray> more;
        if (!error.isError()) {
            deliverStreams(reply, &more);
        } else if (error.isRetryable()) {
            // Not read (LOADING, a dropped connection): read these streams again shortly,
            // their followers are waiting for exactly these entries.
            for (qsizetype i = 0; i < keys; ++i)
                m_pokes.insert(args.at(4 + i));
            if (!m_pokeScheduled) {
                m_pokeScheduled = true;
                QTimer::singleShot(kRetryMs, this, &StreamHub::flushPokes);
            }
            return;
        }
        for (const QByteArray &key : std::as_const(more))
            m_pokes.insert(key);
        if (!m_pokes.isEmpty())
            flushPokes();
    });
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
