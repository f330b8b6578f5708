#include "streams/StreamWriter.h"

#include "redis/RedisConnection.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QLoggingCategory>
#include <QTimer>

Q_LOGGING_CATEGORY(lcWriter, "agentstreams.streams.writer")

namespace {
// KEYS[1] stream, KEYS[2] run record, KEYS[3] lease index. ARGV: ttlMs, lease (-1 keep,
// 0 drop, else expiry ms), conversation id, nRunFields, runFields..., then per entry: id,
// nFields, fields... An XADD whose id is not above the stream's top entry was already written
// by an earlier attempt of this same batch: counted as skipped, not an error.
const char kAppendScript[] = R"lua(
local ttl = tonumber(ARGV[1])
local status = redis.call('HGET', KEYS[2], 'status')
if status and status ~= 'in_progress' and status ~= 'queued' then
  -- Ended elsewhere (cancelled from another instance, or declared interrupted): refuse new
  -- entries; a retry of entries that are already stored is still fine.
  local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  local tms, tseq = -1, -1
  if #top > 0 then
    local a, b = string.match(top[1][1], '(%d+)-(%d+)')
    tms, tseq = tonumber(a), tonumber(b)
  end
  local j = 5 + 2 * tonumber(ARGV[4])
  while j <= #ARGV do
    local a, b = string.match(ARGV[j], '(%d+)-(%d+)')
    if tonumber(a) > tms or (tonumber(a) == tms and tonumber(b) > tseq) then
      return redis.error_reply('ENDED the run was ended (' .. status .. ') by another instance')
    end
    j = j + 2 + 2 * tonumber(ARGV[j + 1])
  end
  return {0, 0}
end
local lease = tonumber(ARGV[2])
if lease == 0 then
  redis.call('ZREM', KEYS[3], ARGV[3])
elseif lease > 0 then
  redis.call('ZADD', KEYS[3], lease, ARGV[3])
end
local nh = tonumber(ARGV[4])
local i = 5
if nh > 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, i, i + 2 * nh - 1))
  i = i + 2 * nh
end
local added, skipped = 0, 0
while i <= #ARGV do
  local nf = tonumber(ARGV[i + 1])
  local r = redis.pcall('XADD', KEYS[1], ARGV[i], unpack(ARGV, i + 2, i + 1 + 2 * nf))
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'equal or smaller', 1, true) then skipped = skipped + 1 else return r end
  else
    added = added + 1
  end
  i = i + 2 + 2 * nf
end
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {added, skipped}
)lua";

constexpr int kMaxEntriesPerCall = 256;
} // namespace

StreamWriter::StreamWriter(RedisConnection *connection, QObject *parent)
    : QObject(parent)
    , m_connection(connection)
    , m_scriptSha(QCryptographicHash::hash(QByteArray(kAppendScript), QCryptographicHash::Sha1).toHex())
{
    connect(m_connection, &RedisConnection::connected, this, &StreamWriter::scheduleFlush);
}

void StreamWriter::prime(const QByteArray &conversationId, const EntryId &last)
{
    Stream &s = m_streams[conversationId];
    s.released = false;
    if (s.last < last)
        s.last = last;
    if (s.acked < last)
        s.acked = last;
}

EntryId StreamWriter::append(const QByteArray &conversationId, FieldList fields, const FieldList &runFields, qint64 lease)
{
    Stream &s = m_streams[conversationId];
    s.released = false;
    const quint64 now = quint64(QDateTime::currentMSecsSinceEpoch());
    const EntryId id = now > s.last.ms ? EntryId{now, 0} : s.last.next();
    s.last = id;
    fields.emplace_back(QByteArrayLiteral("seq"), QByteArray::number(++s.seq));
    fields.emplace_back(QByteArrayLiteral("ts"), QByteArray::number(now));
    const bool terminal = std::any_of(fields.cbegin(), fields.cend(), [](const auto &f) {
        return f.first == "type" && (f.second == "done" || f.second == "error");
    });
    Pending p{id, std::move(fields), runFields, 0, false, lease};
    enqueue(conversationId, std::move(p), terminal);
    return id;
}

void StreamWriter::touch(const QByteArray &conversationId, const FieldList &runFields, qint64 lease)
{
    Pending p;
    p.lease = lease;
    p.runFields = runFields;
    p.touchOnly = true;
    enqueue(conversationId, std::move(p), false);
}

void StreamWriter::enqueue(const QByteArray &conversationId, Pending p, bool terminal)
{
    // A terminal entry (done/error) is always queued, past the bound and after a failure, so
    // that every stream still ends once Redis takes writes again.
    Stream &s = m_streams[conversationId];
    if (s.failed && !terminal)
        return;
    p.bytes = 64;
    for (const auto &f : p.fields)
        p.bytes += f.first.size() + f.second.size() + 8;
    for (const auto &f : p.runFields)
        p.bytes += f.first.size() + f.second.size() + 8;
    if (!terminal && m_bufferedBytes + p.bytes > m_maxBufferedBytes) {
        s.failed = true;
        const RedisError error{RedisError::Kind::Other,
                               QStringLiteral("write buffer full (%1 bytes waiting for Redis: %2)")
                                   .arg(m_bufferedBytes)
                                   .arg(m_connection->lastError().message)};
        qCWarning(lcWriter).noquote() << conversationId << error.message;
        Q_EMIT failed(conversationId, error);
        return;
    }
    m_bufferedBytes += p.bytes;
    s.queue.push_back(std::move(p));
    scheduleFlush();
}

void StreamWriter::release(const QByteArray &conversationId)
{
    auto it = m_streams.find(conversationId);
    if (it == m_streams.end())
        return;
    it->released = true;
    if (it->queue.empty())
        m_streams.erase(it);
}

bool StreamWriter::hasPending(const QByteArray &conversationId) const
{
    auto it = m_streams.constFind(conversationId);
    return it != m_streams.constEnd() && !it->queue.empty();
}

void StreamWriter::scheduleFlush()
{
    if (m_flushScheduled)
        return;
    m_flushScheduled = true;
    QTimer::singleShot(0, this, &StreamWriter::flush);
}

void StreamWriter::flush()
{
    m_flushScheduled = false;
    if (!m_connection->isConnected())
        return; // the connected signal schedules the next flush
    for (auto it = m_streams.begin(); it != m_streams.end(); ++it) {
        if (it->inFlight == 0 && !it->queue.empty())
            sendBatch(it.key(), it.value(), false);
    }
}

void StreamWriter::sendBatch(const QByteArray &conversationId, Stream &s, bool useEval)
{
    QList<QByteArray> args;
    args.reserve(8 + int(qMin<size_t>(s.queue.size(), kMaxEntriesPerCall)) * 12);
    args << (useEval ? QByteArrayLiteral("EVAL") : QByteArrayLiteral("EVALSHA"))
         << (useEval ? QByteArray(kAppendScript) : m_scriptSha) << "3" << StreamKeys::stream(conversationId)
         << StreamKeys::run(conversationId) << StreamKeys::leases() << QByteArray::number(m_ttlMs);
    // Run-record fields and lease of every entry in the batch, later ones winning.
    FieldList runFields;
    qint64 lease = -1;
    int count = 0;
    for (auto p = s.queue.begin(); p != s.queue.end() && count < kMaxEntriesPerCall; ++p, ++count) {
        if (p->lease >= 0)
            lease = p->lease;
        for (const auto &f : p->runFields) {
            auto existing = std::find_if(runFields.begin(), runFields.end(), [&](const auto &r) { return r.first == f.first; });
            if (existing != runFields.end())
                existing->second = f.second;
            else
                runFields.append(f);
        }
    }
    args << QByteArray::number(lease) << conversationId << QByteArray::number(runFields.size());
    for (const auto &f : runFields)
        args << f.first << f.second;
    int i = 0;
    for (auto p = s.queue.begin(); i < count; ++p, ++i) {
        if (p->touchOnly)
            continue;
        args << p->id.toBytes() << QByteArray::number(p->fields.size());
        for (const auto &f : p->fields)
            args << f.first << f.second;
    }
    s.inFlight = count;
    m_connection->command(args, [this, conversationId, count](const RedisReply &reply, const RedisError &error) {
        onBatchReply(conversationId, count, reply, error);
    });
}

void StreamWriter::onBatchReply(const QByteArray &conversationId, int count, const RedisReply &reply, const RedisError &error)
{
    auto it = m_streams.find(conversationId);
    if (it == m_streams.end())
        return;
    Stream &s = it.value();
    s.inFlight = 0;
    if (error.kind == RedisError::Kind::Reply && reply.str.startsWith("NOSCRIPT")) {
        if (m_connection->isConnected())
            sendBatch(conversationId, s, true); // loads the script; later calls use EVALSHA
        return;
    }
    if (error.isConnectionError()) {
        // Stays queued; sent again after the reconnect, and the ids make the retry idempotent.
        return;
    }
    if (error.isError()) {
        qCWarning(lcWriter).noquote() << conversationId << "write refused by Redis:" << error.message;
        s.failed = true;
        for (const auto &p : s.queue)
            m_bufferedBytes -= p.bytes;
        s.queue.clear();
        if (s.released)
            m_streams.erase(it);
        Q_EMIT failed(conversationId, error);
        return;
    }
    EntryId last;
    bool wroteEntries = false;
    const EntryId previous = s.acked;
    QList<StreamEntry> entries;
    entries.reserve(count);
    for (int i = 0; i < count && !s.queue.empty(); ++i) {
        Pending &p = s.queue.front();
        if (!p.touchOnly) {
            last = p.id;
            wroteEntries = true;
            ++m_entriesWritten;
            entries.append(StreamEntry{p.id, p.id.toBytes(), std::move(p.fields)});
        }
        m_bufferedBytes -= p.bytes;
        s.queue.pop_front();
    }
    if (wroteEntries)
        s.acked = last;
    const bool empty = s.queue.empty();
    const bool released = s.released;
    if (!empty)
        sendBatch(conversationId, s, false);
    else if (released)
        m_streams.erase(it);
    if (wroteEntries) {
        Q_EMIT appended(conversationId, previous, entries);
        Q_EMIT written(conversationId, last);
    }
    if (empty)
        Q_EMIT drained(conversationId);
}
