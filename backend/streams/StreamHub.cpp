#include "streams/StreamHub.h"

#include "redis/RedisConnection.h"

#include <QLoggingCategory>
#include <QTimer>

Q_LOGGING_CATEGORY(lcHub, "agentstreams.streams.hub")

namespace {
constexpr int kLiveCount = 1000;      // XREAD COUNT per stream per read
constexpr int kUnblockAttempts = 40;  // CLIENT UNBLOCK retries while the XREAD is still in transit
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

QList<StreamEntry> StreamHub::parseEntries(const RedisReply &array)
{
    QList<StreamEntry> out;
    out.reserve(array.elements.size());
    for (const RedisReply &item : array.elements) {
        if (item.elements.size() != 2)
            continue;
        StreamEntry e;
        e.idText = item.elements.at(0).str;
        const auto id = EntryId::parse(e.idText);
        if (!id)
            continue;
        e.id = *id;
        const auto &kv = item.elements.at(1).elements;
        e.fields.reserve(kv.size() / 2);
        for (qsizetype i = 0; i + 1 < kv.size(); i += 2)
            e.fields.emplace_back(kv.at(i).str, kv.at(i + 1).str);
        out.append(std::move(e));
    }
    return out;
}

void StreamHub::subscribe(StreamSubscriber *subscriber, const QByteArray &conversationId, const EntryId &after)
{
    unsubscribe(subscriber);
    Sub &sub = m_subs[subscriber];
    sub.subscriber = subscriber;
    sub.key = StreamKeys::stream(conversationId);
    sub.cursor = after;
    sub.token = m_nextToken++;
    catchUp(&sub);
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
    m_query->command({"XRANGE", sub->key, start, "+", "COUNT", QByteArray::number(m_batch + (inclusive ? 1 : 0))},
                     [this, s, token](const RedisReply &reply, const RedisError &error) { onCatchUp(s, token, reply, error); });
}

void StreamHub::onCatchUp(StreamSubscriber *s, quint64 token, const RedisReply &reply, const RedisError &error)
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
        qCWarning(lcHub).noquote() << "replay of" << sub->key << "failed:" << error.message;
        return;
    }
    QList<StreamEntry> entries = parseEntries(reply);
    const bool inclusive = sub->firstBatch && !sub->cursor.isNull();
    const bool full = entries.size() >= m_batch + (inclusive ? 1 : 0);
    sub->firstBatch = false;
    if (inclusive && !entries.isEmpty() && entries.first().id == sub->cursor) {
        sub->lastTerminal = entries.first().isTerminal();
        entries.removeFirst();
    }
    if (full) {
        deliver(sub, entries, false);
        if ((sub = find(s, token)))
            catchUp(sub);
        return;
    }
    auto live = m_live.constFind(sub->key);
    const bool atHead = live == m_live.constEnd() || live->cursor <= (entries.isEmpty() ? sub->cursor : entries.last().id);
    deliver(sub, entries, atHead);
    if (!(sub = find(s, token)))
        return;
    if (atHead)
        goLive(sub);
    else
        catchUp(sub); // the live reader moved on while we replayed: read up to it first
}

void StreamHub::deliver(Sub *sub, const QList<StreamEntry> &entries, bool atHead)
{
    StreamSubscriber *s = sub->subscriber;
    if (!entries.isEmpty()) {
        sub->cursor = entries.last().id;
        sub->lastTerminal = entries.last().isTerminal();
        const quint64 token = sub->token;
        s->streamEntries(entries);
        sub = find(s, token); // the subscriber may have left inside the call
        if (!sub)
            return;
    }
    if (atHead && sub->lastTerminal) {
        unsubscribe(s);
        s->streamEnded();
    }
}

void StreamHub::goLive(Sub *sub)
{
    auto it = m_live.find(sub->key);
    if (it == m_live.end()) {
        int best = 0;
        for (int i = 1; i < m_readers.size(); ++i)
            if (m_readers[i].keys.size() < m_readers[best].keys.size())
                best = i;
        Live live;
        live.cursor = sub->cursor;
        live.reader = best;
        it = m_live.insert(sub->key, live);
        Reader &reader = m_readers[best];
        reader.keys.insert(sub->key);
        if (reader.inFlight)
            unblock(best, reader.generation, 0);
        else
            issueRead(best);
    }
    it->subs.append(sub->subscriber);
    sub->live = true;
}

void StreamHub::dropLiveKey(const QByteArray &key, StreamSubscriber *s)
{
    auto it = m_live.find(key);
    if (it == m_live.end())
        return;
    it->subs.removeOne(s);
    if (it->subs.isEmpty()) {
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
        args << key;
        ids << m_live.value(key).cursor.toBytes();
    }
    args += ids;
    reader.inFlight = true;
    reader.unblockPending = false;
    ++reader.generation;
    reader.connection->command(args, [this, index](const RedisReply &reply, const RedisError &error) { onRead(index, reply, error); });
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

void StreamHub::onRead(int index, const RedisReply &reply, const RedisError &error)
{
    Reader &reader = m_readers[index];
    reader.inFlight = false;
    if (error.isError()) {
        if (!error.isConnectionError()) {
            qCWarning(lcHub).noquote() << "live read failed:" << error.message;
            QTimer::singleShot(100, this, [this, index] { issueRead(index); });
        }
        return; // connection errors: the connected signal issues the next read
    }
    for (const RedisReply &stream : reply.elements) {
        if (stream.elements.size() != 2)
            continue;
        const QByteArray key = stream.elements.at(0).str;
        auto live = m_live.find(key);
        if (live == m_live.end())
            continue;
        const QList<StreamEntry> entries = parseEntries(stream.elements.at(1));
        if (entries.isEmpty())
            continue;
        live->cursor = entries.last().id;
        const bool atHead = entries.size() < kLiveCount;
        const QList<StreamSubscriber *> subs = live->subs; // delivery may change the list
        for (StreamSubscriber *s : subs) {
            auto it = m_subs.find(s);
            if (it == m_subs.end() || !it->live)
                continue;
            Sub *sub = &it.value();
            if (sub->cursor >= entries.last().id) {
                continue;
            }
            if (sub->cursor < entries.first().id) {
                deliver(sub, entries, atHead);
            } else {
                QList<StreamEntry> tail;
                for (const StreamEntry &e : entries)
                    if (e.id > sub->cursor)
                        tail.append(e);
                deliver(sub, tail, atHead);
            }
        }
    }
    issueRead(index);
}
