#include "streams/StreamWriter.h"

#include "HopTrace.h"

#include "Metrics.h"
#include "redis/RedisConnection.h"
#include "redis/RedisRouter.h"
#include "redis/RespCommand.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QPointer>
#include <QTimer>
#include <QVarLengthArray>

#include <hiredis/hiredis.h>

Q_LOGGING_CATEGORY(lcWriter, "agentstreams.streams.writer")

namespace {
// One call appends to MANY streams (on a cluster: of one slot). KEYS: per stream two, its
// stream key and its run record, then the lease buckets the call changes (one per slot among
// the streams whose lease changes: none for most calls, which only add entries). ARGV[1] ttlMs,
// ARGV[2] the wake-up channel prefix ('' = publish nothing: one server), ARGV[3] the number of
// streams, then per stream (in KEYS order): conversation id, lease (-1 keep, 0 drop, else
// expiry ms) followed, unless -1, by the KEYS index of its slot's lease bucket, refresh the TTL
// of both keys (1/0), after (an id the stream must already hold, because the call before this
// one wrote it; '' = no check), nRunFields, runFields..., nEntries, then per entry: id,
// nFields, fields... Returns one result per stream: {added, skipped}, or an error reply for
// that stream alone (the other streams of the call are not affected). An XADD whose id is not
// above the stream's top entry was already written by an earlier attempt of this same batch:
// counted as skipped, not an error. With a channel prefix, a stream that got entries ends with
// SPUBLISH of its new last entry id on prefix .. conversation id .. '}' (StreamKeys::wake).
const QByteArray kAppendScript = QByteArrayLiteral(R"lua(
local ttl = tonumber(ARGV[1])
local wake = ARGV[2]
local results = {}
local a = 4
for s = 1, tonumber(ARGV[3]) do
  local skey, rkey, lkey = KEYS[2 * s - 1], KEYS[2 * s], nil
  local conv, lease = ARGV[a], tonumber(ARGV[a + 1])
  if lease ~= -1 then
    lkey = KEYS[tonumber(ARGV[a + 2])]
    a = a + 1
  end
  local refresh, after, nh = ARGV[a + 2] == '1', ARGV[a + 3], tonumber(ARGV[a + 4])
  local hstart = a + 5
  local ne = tonumber(ARGV[hstart + 2 * nh])
  local first = hstart + 2 * nh + 1
  local last = first
  for e = 1, ne do last = last + 2 + 2 * tonumber(ARGV[last + 1]) end
  a = last
  local status = redis.call('HGET', rkey, 'status')
  local gap = false
  if after ~= '' then
    -- The previous call of this stream was refused or failed part way: writing this one
    -- would leave a hole.
    local top = redis.call('XREVRANGE', skey, '+', after, 'COUNT', 1)
    gap = #top == 0
  end
  if gap then
    results[s] = {err = 'GAP the entries before this batch are not stored'}
  elseif status and status ~= 'in_progress' and status ~= 'queued' then
    -- Ended (cancelled from another instance, declared interrupted, or by us): refuse new
    -- entries; a retry of entries that are already stored is still fine. "Stored" means an
    -- entry with this id AND these fields: the entry that ended the run may have taken an id
    -- we also picked (the other instance's clock), and it is not ours.
    local res = {0, 0}
    local k = first
    while k < last do
      local nf = tonumber(ARGV[k + 1])
      local got = redis.call('XRANGE', skey, ARGV[k], ARGV[k], 'COUNT', 1)
      local same = #got == 1 and #got[1][2] == 2 * nf
      for f = 1, 2 * nf do
        if not same then break end
        same = got[1][2][f] == ARGV[k + 1 + f]
      end
      if not same then
        res = {err = 'ENDED the run was ended (' .. status .. ') by another instance'}
        break
      end
      k = k + 2 + 2 * nf
    end
    results[s] = res
  else
    if lease == 0 then
      redis.call('ZREM', lkey, conv)
    elseif lease > 0 then
      redis.call('ZADD', lkey, lease, conv)
    end
    if nh > 0 then
      redis.call('HSET', rkey, unpack(ARGV, hstart, hstart + 2 * nh - 1))
    end
    local added, skipped, failure, stored = 0, 0, nil, nil
    local k = first
    while k < last do
      local nf = tonumber(ARGV[k + 1])
      local r = redis.pcall('XADD', skey, ARGV[k], unpack(ARGV, k + 2, k + 1 + 2 * nf))
      if type(r) == 'table' and r.err then
        if string.find(r.err, 'equal or smaller', 1, true) then
          skipped = skipped + 1
          stored = ARGV[k]
        else
          failure = r
          break
        end
      else
        added = added + 1
        stored = ARGV[k]
      end
      k = k + 2 + 2 * nf
    end
    if wake ~= '' and stored then
      redis.call('SPUBLISH', wake .. conv .. '}', stored)
    end
    if ttl > 0 and refresh then
      redis.call('PEXPIRE', skey, ttl)
      redis.call('PEXPIRE', rkey, ttl)
    end
    results[s] = failure or {added, skipped}
  end
end
return results
)lua");

const RedisScript &appendScript()
{
    static const RedisScript script = RedisScript::fromSource(kAppendScript);
    return script;
}

constexpr int kMaxEntriesPerStream = 512; // per call: a long backlog goes out in several calls
constexpr int kMaxEntriesPerCall = 1024; // all streams of one call together (bigger calls only copy more)
// Two calls of one stream may be out at once, so that Redis appends one batch while this
// process frames the replies of the one before and builds the next.
constexpr int kMaxCallsPerStream = 2;
// ... but the second one only for a backlog. A stream with a few new entries behind its
// outstanding call waits for that call's reply: its second call would make Redis check that
// the first one landed (an XREVRANGE per stream, the `after` check), and once the writer falls
// behind under many streams (W5-live) nearly every stream has a call out, so that check ran
// for 60 % of the entries and was what kept the writer behind (docs/BENCHMARKS.md, session 12).
constexpr size_t kPipelineBacklog = 64;
// Backoff after a transient error reply (LOADING, BUSY, ...): doubled per attempt up to the cap.
constexpr int kFirstRetryMs = 50;
constexpr int kMaxRetryMs = 1000;
constexpr qint64 kReplicasGoneMs = 3000; // see StreamWriter::replicasGone

qint64 monotonicNs()
{
    static QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.nsecsElapsed();
}
} // namespace

StreamWriter::StreamWriter(RedisRouter *router, QObject *parent)
    : QObject(parent)
    , m_router(router)
    , m_buckets(KeySlot::kSlots, Bucket::Unknown)
{
    auto sendAll = [this] {
        // Calls lost with the old connection left their streams queued: send them again.
        for (auto it = m_streams.begin(); it != m_streams.end(); ++it)
            markReady(it.key(), it.value());
        scheduleFlush();
    };
    connect(m_router, &RedisRouter::connected, this, sendAll);
    connect(m_router, &RedisRouter::ready, this, sendAll);
    auto unpark = [this] {
        if (m_parked.isEmpty())
            return;
        markReady(std::exchange(m_parked, {}));
        scheduleFlush();
    };
    connect(m_router, &RedisRouter::connectionChanged, this, unpark);
    connect(m_router, &RedisRouter::topologyChanged, this, unpark);
    m_resendTimer.setSingleShot(true);
    m_resendTimer.setInterval(20);
    connect(&m_resendTimer, &QTimer::timeout, this, sendAll);
    m_relistTimer.setSingleShot(true);
    m_relistTimer.setInterval(500);
    connect(&m_relistTimer, &QTimer::timeout, this, &StreamWriter::relist);
    m_replicaProbe.setInterval(1000);
    connect(&m_replicaProbe, &QTimer::timeout, this, &StreamWriter::probeReplicas);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, [this] {
        for (auto it = m_streams.begin(); it != m_streams.end(); ++it)
            markReady(it.key(), it.value());
        flush();
    });
    m_streamRetryTimer.setSingleShot(true);
    connect(&m_streamRetryTimer, &QTimer::timeout, this, [this] {
        markReady(std::exchange(m_retrying, {}));
        flush();
    });
}

void StreamWriter::markReady(const QSet<QByteArray> &conversationIds)
{
    for (const QByteArray &id : conversationIds) {
        auto it = m_streams.find(id);
        if (it != m_streams.end())
            markReady(id, it.value());
    }
}

void StreamWriter::whenStored(const QByteArray &conversationId, const EntryId &id, std::function<void(const RedisError &)> done)
{
    auto it = m_streams.find(conversationId);
    // Not tracked (released and written) or acknowledged already: stored.
    if (it == m_streams.end() || id <= it->acked || it->queue.empty()) {
        done(it != m_streams.end() && it->failed && it->acked < id
                 ? RedisError{RedisError::Kind::Other, QStringLiteral("the run's writes failed")}
                 : RedisError{});
        return;
    }
    it->waiters.emplace_back(id, std::move(done));
}

std::vector<std::function<void(const RedisError &)>> StreamWriter::takeDueWaiters(Stream &s, bool all)
{
    std::vector<std::function<void(const RedisError &)>> due;
    if (s.waiters.empty())
        return due;
    for (auto w = s.waiters.begin(); w != s.waiters.end();) {
        if (all || w->first <= s.acked) {
            due.push_back(std::move(w->second));
            w = s.waiters.erase(w);
        } else {
            ++w;
        }
    }
    return due;
}

void StreamWriter::retryLater(const RedisError &error)
{
    backOff(m_retryTimer, error, "writes wait and are retried");
}

// In cluster mode a transient error reply holds back only the streams it answered (the other
// primaries' streams keep going): they are sent again after the backoff.
void StreamWriter::retryStream(const QByteArray &conversationId, const RedisError &error)
{
    m_retrying.insert(conversationId);
    backOff(m_streamRetryTimer, error, "those streams' writes wait and are retried");
}

void StreamWriter::backOff(QTimer &timer, const RedisError &error, const char *what)
{
    Metrics::instance().writeRetried();
    if (timer.isActive())
        return;
    m_retryBackoffMs = m_retryBackoffMs == 0 ? kFirstRetryMs : qMin(m_retryBackoffMs * 2, kMaxRetryMs);
    if (m_retryBackoffMs == kFirstRetryMs)
        qCWarning(lcWriter).noquote() << "Redis answered" << error.message << "-" << what;
    timer.start(m_retryBackoffMs);
}

// A primary without its replicas for kReplicasGoneMs (a failover leaves the new primary alone
// until the old one rejoins; a dead replica may never come back): acknowledging only what
// replicas have would stop every run, so chunks are acknowledged from that primary alone
// until ROLE lists enough replicas again. Shorter than that, the writes wait: the sentinels
// (or the cluster) announce a switch well within it, and what a demoted primary took is then
// sent again. Counted per primary: one primary alone does not degrade the others.
bool StreamWriter::replicasGone(int node, int acknowledged)
{
    const qint64 now = monotonicNs() / 1000000;
    const qint64 since = m_waitFailingSince.value(node, -1);
    if (since < 0)
        m_waitFailingSince.insert(node, now);
    if (since < 0 || now - since < kReplicasGoneMs)
        return false;
    if (m_waitDegraded.contains(node))
        return true;
    m_waitDegraded.insert(node);
    qCWarning(lcWriter).noquote() << "only" << acknowledged << "of" << m_waitReplicas << "replicas for" << kReplicasGoneMs
                                  << "ms: chunks are acknowledged from the primary alone until they are back";
    m_replicaProbe.start();
    return true;
}

void StreamWriter::probeReplicas()
{
    // ROLE on a degraded primary: ["master", offset, [[ip, port, offset], ...]].
    for (int node : std::as_const(m_waitDegraded))
        m_router->commandOnNode(node, {"ROLE"}, [this, self = QPointer<StreamWriter>(this), node](const RedisReply &reply, const RedisError &error) {
            if (!self || error.isError() || reply.elements.size() < 3 || reply.elements.at(2).elements.size() < m_waitReplicas || !m_waitDegraded.contains(node))
                return;
            qCInfo(lcWriter).noquote() << "replicas are back:" << reply.elements.at(2).elements.size() << "- chunks wait for them again";
            m_waitDegraded.remove(node);
            m_waitFailingSince.remove(node);
            if (m_waitDegraded.isEmpty())
                m_replicaProbe.stop();
        });
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
    const bool terminal = std::any_of(fields.cbegin(), fields.cend(), [](const auto &f) {
        return f.first == "type" && (f.second == "done" || f.second == "error");
    });
    Pending p{id, std::move(fields), runFields, 0, false, lease, terminal};
    if (HopTrace::on())
        HopTrace::take(conversationId, id);
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
                                   .arg(m_router->lastError().message)};
        qCWarning(lcWriter).noquote() << conversationId << error.message;
        Q_EMIT failed(conversationId, error);
        return;
    }
    m_bufferedBytes += p.bytes;
    s.queue.push_back(std::move(p));
    markReady(conversationId, s);
    scheduleFlush();
}

void StreamWriter::release(const QByteArray &conversationId)
{
    auto it = m_streams.find(conversationId);
    if (it == m_streams.end())
        return;
    it->released = true;
    if (it->queue.empty()) {
        m_streams.erase(it);
        Q_EMIT stopped(conversationId);
    }
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

bool StreamWriter::mayCall(const Stream &s)
{
    const size_t unsent = s.queue.size() - size_t(s.inFlight);
    return unsent > 0 && (s.calls == 0 || (s.calls < kMaxCallsPerStream && unsent >= kPipelineBacklog));
}

void StreamWriter::markReady(const QByteArray &conversationId, Stream &s)
{
    if (!s.ready && mayCall(s)) {
        s.ready = true;
        m_ready.push_back(conversationId);
    }
}

void StreamWriter::flush()
{
    m_flushScheduled = false;
    const bool cluster = m_router->isCluster();
    // One server: nothing goes out while it is away (the connected signal schedules the next
    // flush). A cluster: each call waits in the router for its own slot's primary, so a primary
    // that is down holds back only its streams.
    if (!m_router->isReady() || (!cluster && !m_router->isConnected()))
        return;
    if (m_retryTimer.isActive())
        return; // Redis said "not now": the retry timer sends everything queued
    // Every stream with entries not yet sent and a free call slot, in the order they became
    // ready, goes into calls of at most kMaxEntriesPerCall entries each (one server: any
    // streams together; a cluster: the streams of one slot); the calls are pipelined.
    struct Call
    {
        std::vector<CallPart> parts;
        int entries = 0;
    };
    std::vector<Call> calls;
    // The call that still takes streams: one server, any stream (`single`); a cluster, per slot.
    QHash<int, size_t> open;
    qsizetype single = -1;
    QList<int> newBuckets;
    while (!m_ready.empty()) {
        const QByteArray id = std::move(m_ready.front());
        m_ready.pop_front();
        auto it = m_streams.find(id);
        if (it == m_streams.end())
            continue;
        Stream &s = it.value();
        s.ready = false;
        if (!mayCall(s))
            continue;
        if (s.slot < 0)
            s.slot = StreamKeys::slotOf(id);
        if (cluster && !slotConnected(s.slot)) {
            // Its primary is down (a failover is under way): the stream waits here, not as
            // retries piled up in the router, and goes once the router has a primary again.
            m_parked.insert(id);
            m_router->refresh(); // throttled by the router; nothing else may ask while we wait
            resendSoon();
            continue;
        }
        Bucket &bucket = m_buckets[size_t(s.slot)];
        if (bucket == Bucket::Unknown) {
            // One SADD for the turn's new buckets. One server: it goes out first, the calls
            // right behind it on the same connection.
            bucket = Bucket::Pending;
            newBuckets.append(s.slot);
        }
        if (cluster && bucket != Bucket::Listed) {
            // The registry lives on another node: the stream waits for the SADD's reply.
            m_bucketWaiters[s.slot].push_back([this, id](const RedisError &error) {
                auto it = m_streams.find(id);
                if (it == m_streams.end())
                    return;
                markReady(id, it.value());
                if (error.isError())
                    resendSoon();
                else
                    scheduleFlush();
            });
            continue;
        }
        const int count = int(qMin<size_t>(s.queue.size() - size_t(s.inFlight), kMaxEntriesPerStream));
        size_t index;
        if (!cluster) {
            if (single < 0) {
                calls.emplace_back();
                single = qsizetype(calls.size() - 1);
            }
            index = size_t(single);
        } else {
            auto slotCall = open.find(s.slot);
            if (slotCall == open.end()) {
                slotCall = open.insert(s.slot, calls.size());
                calls.emplace_back();
            }
            index = slotCall.value();
        }
        Call &call = calls[index];
        call.parts.push_back({id, s.inFlight, count, s.epoch, s.slot});
        call.entries += count;
        s.inFlight += count;
        ++s.calls;
        if (call.entries >= kMaxEntriesPerCall) {
            if (cluster)
                open.remove(s.slot);
            else
                single = -1;
        }
    }
    if (!newBuckets.isEmpty())
        listBuckets(newBuckets);
    for (Call &call : calls)
        sendCall(std::move(call.parts));
    sendWaits();
}

void StreamWriter::whenBucketListed(const QByteArray &conversationId, std::function<void(const RedisError &)> done)
{
    const int slot = StreamKeys::slotOf(conversationId);
    if (m_buckets[size_t(slot)] == Bucket::Listed) {
        done({});
        return;
    }
    m_bucketWaiters[slot].push_back(std::move(done));
    if (m_buckets[size_t(slot)] == Bucket::Unknown) {
        m_buckets[size_t(slot)] = Bucket::Pending;
        listBuckets({slot});
    }
}

void StreamWriter::listBuckets(const QList<int> &slotList)
{
    // Into every copy of the registry (StreamKeys::leaseBucketRegistries): the slots are listed
    // once ANY copy has them (a create must not wait for the failover of the primary of one
    // copy); a copy that failed gets them later from the relist timer. Every copy failing
    // leaves the slots unlisted: the next write of one of them lists it again.
    struct Listing
    {
        int left = 0;
        bool listed = false;
        RedisError error;
        QList<int> failedCopies;
    };
    const QList<QByteArray> registries = StreamKeys::leaseBucketRegistries(m_router->isCluster());
    auto listing = std::make_shared<Listing>();
    listing->left = int(registries.size());
    QList<QByteArray> members;
    for (int slot : slotList)
        members.append(StreamKeys::leaseBucketOfSlot(slot));
    for (int copy = 0; copy < registries.size(); ++copy) {
        m_router->command(registries.at(copy), QList<QByteArray>{"SADD", registries.at(copy)} + members,
                          [this, self = QPointer<StreamWriter>(this), slotList, listing, copy](const RedisReply &, const RedisError &error) {
            if (!self)
                return;
            --listing->left;
            if (error.isError()) {
                listing->error = error;
                listing->failedCopies.append(copy);
            } else if (!listing->listed) {
                listing->listed = true;
                settleBuckets(slotList, {});
            }
            if (listing->left > 0)
                return;
            if (!listing->listed) {
                qCWarning(lcWriter).noquote() << "listing lease buckets failed (asked again with the next write):" << listing->error.message;
                settleBuckets(slotList, listing->error);
                return;
            }
            for (int failed : std::as_const(listing->failedCopies)) {
                for (int slot : slotList)
                    m_unlisted[failed].insert(slot);
            }
            if (!listing->failedCopies.isEmpty() && !m_relistTimer.isActive())
                m_relistTimer.start();
        });
    }
}

void StreamWriter::settleBuckets(const QList<int> &slotList, const RedisError &error)
{
    for (int slot : slotList) {
        m_buckets[size_t(slot)] = error.isError() ? Bucket::Unknown : Bucket::Listed;
        const auto waiters = m_bucketWaiters.take(slot);
        for (const auto &done : waiters)
            done(error);
    }
}

void StreamWriter::relist()
{
    const QList<QByteArray> registries = StreamKeys::leaseBucketRegistries(m_router->isCluster());
    bool waiting = false; // a copy whose primary is still away: ask again with the next tick
    for (auto it = m_unlisted.begin(); it != m_unlisted.end(); ++it) {
        if (it.value().isEmpty())
            continue;
        if (!m_router->isConnected(registries.at(it.key()))) {
            waiting = true;
            continue;
        }
        QList<QByteArray> args{"SADD", registries.at(it.key())};
        for (int slot : std::as_const(it.value()))
            args.append(StreamKeys::leaseBucketOfSlot(slot));
        const QSet<int> sent = std::exchange(it.value(), {});
        m_router->command(registries.at(it.key()), args, [this, self = QPointer<StreamWriter>(this), copy = it.key(), sent](const RedisReply &, const RedisError &error) {
            if (!self || !error.isError())
                return;
            m_unlisted[copy] += sent; // again with the next tick
            if (!m_relistTimer.isActive())
                m_relistTimer.start();
        });
    }
    if (waiting && !m_relistTimer.isActive())
        m_relistTimer.start();
}

bool StreamWriter::slotConnected(int slot)
{
    RedisConnection *c = m_router->connection(m_router->table().nodeOf(slot));
    return c && c->isConnected();
}

void StreamWriter::resendSoon()
{
    if (!m_resendTimer.isActive())
        m_resendTimer.start();
}

void StreamWriter::sendCall(std::vector<CallPart> parts)
{
    // What each stream's batch changes in its run record and lease (later entries winning):
    // the lease buckets the call touches are KEYS too, so this comes before the command.
    struct Summary
    {
        FieldList runFields;
        qint64 lease = -1;
        int entries = 0;
        bool touches = false;
        bool terminal = false;
        int leaseKey = 0; // KEYS index (1-based) of its lease bucket, when the lease changes
    };
    std::vector<Summary> summaries(parts.size());
    QVarLengthArray<int, 4> leaseSlots; // the call's lease buckets, in KEYS order
    for (size_t i = 0; i < parts.size(); ++i) {
        const CallPart &part = parts[i];
        const Stream &s = m_streams[part.conversationId];
        Summary &sum = summaries[i];
        const auto begin = s.queue.begin() + part.offset;
        for (auto p = begin; p != begin + part.count; ++p) {
            if (p->lease >= 0)
                sum.lease = p->lease;
            sum.touches |= p->touchOnly;
            sum.terminal |= p->terminal;
            if (!p->touchOnly)
                ++sum.entries;
            for (const auto &f : p->runFields) {
                auto existing = std::find_if(sum.runFields.begin(), sum.runFields.end(), [&](const auto &r) { return r.first == f.first; });
                if (existing != sum.runFields.end())
                    existing->second = f.second;
                else
                    sum.runFields.append(f);
            }
        }
        if (sum.lease >= 0) {
            const auto known = std::find(leaseSlots.begin(), leaseSlots.end(), part.slot);
            sum.leaseKey = int(2 * parts.size()) + 1 + int(known - leaseSlots.begin());
            if (known == leaseSlots.end())
                leaseSlots.append(part.slot);
        }
    }
    RespCommand cmd(m_lastCallBytes + 1024);
    cmd.arg("EVALSHA").arg(appendScript().sha).arg(qint64(2 * parts.size() + size_t(leaseSlots.size())));
    for (const CallPart &part : parts)
        cmd.arg({StreamKeys::kStreamPrefix, part.conversationId, "}"}).arg({StreamKeys::kRunPrefix, part.conversationId, "}"});
    for (int slot : leaseSlots)
        cmd.arg({StreamKeys::kLeaseBucketPrefix, KeySlot::tagForSlot(slot), "}"});
    cmd.arg(m_ttlMs).arg(m_router->isCluster() ? QByteArrayView(StreamKeys::kWakePrefix) : QByteArrayView()).arg(qint64(parts.size()));
    for (size_t i = 0; i < parts.size(); ++i) {
        const CallPart &part = parts[i];
        Stream &s = m_streams[part.conversationId];
        const Summary &sum = summaries[i];
        const auto begin = s.queue.begin() + part.offset;
        const auto end = begin + part.count;
        // Both keys' TTL is set again when it has run down by an eighth (not on every chunk:
        // two PEXPIREs per call were a third of Redis's work), and always with a heartbeat, a
        // run-record change or a terminal entry, so that a finished run lives exactly the TTL.
        const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
        const bool refresh = sum.touches || !sum.runFields.isEmpty() || sum.terminal || nowMs - s.ttlSetMs >= m_ttlMs / 8;
        if (refresh)
            s.ttlSetMs = nowMs;
        cmd.arg(part.conversationId).arg(sum.lease);
        if (sum.lease >= 0)
            cmd.arg(qint64(sum.leaseKey));
        cmd.arg(refresh ? "1" : "0");
        // A call sent while the one before it is still out checks that the entries of the
        // earlier call are stored (if that one failed part way, this one must not land).
        const EntryId *after = nullptr;
        for (auto p = begin; p != s.queue.begin() && !after;) {
            --p;
            if (!p->touchOnly)
                after = &p->id;
        }
        if (after)
            cmd.arg(after->ms, after->seq);
        else
            cmd.arg("");
        cmd.arg(qint64(sum.runFields.size()));
        for (const auto &f : sum.runFields)
            cmd.arg(f.first).arg(f.second);
        cmd.arg(sum.entries);
        for (auto p = begin; p != end; ++p) {
            if (p->touchOnly)
                continue;
            cmd.arg(p->id.ms, p->id.seq).arg(qint64(p->fields.size()));
            for (const auto &f : p->fields)
                cmd.arg(f.first).arg(f.second);
        }
    }
    const QByteArray resp = cmd.finish().toByteArray();
    m_lastCallBytes = qMin<qsizetype>(resp.size(), 1 << 20);
    const qint64 sentNs = monotonicNs();
    if (HopTrace::on())
        markHop(parts, HopTrace::Sent, true);
    ++m_callsSent;
    // Routed by the first stream's key: every key of the call is in its slot (one server: one
    // node anyway). The router loads the script where a node answers NOSCRIPT.
    const QByteArray routeKey = StreamKeys::stream(parts.front().conversationId);
    const int node = m_waitReplicas > 0 ? m_router->nodeOf(routeKey) : -1;
    if (m_waitReplicas <= 0 || m_waitDegraded.contains(node)) {
        m_router->commandFormatted(routeKey, resp, [this, self = QPointer<StreamWriter>(this), sentNs, parts = std::move(parts)](const redisReply *reply, const RedisError &error) mutable {
            if (!self)
                return;
            if (reply)
                Metrics::instance().appendLatency(double(monotonicNs() - sentNs) / 1e9);
            onCallReply(std::move(parts), reply, error);
        }, appendScript().source);
        return;
    }
    // Acknowledged only once the entries are on the replicas too (WAIT, pipelined right
    // behind the call on the node that takes it): a failover then cannot lose a chunk a reader
    // has already seen. Fewer replicas than asked within the timeout: a transient error, the
    // batch goes again with its ids (on the new primary after a failover; skipped where it
    // already landed). A WAIT answered before the call's reply did not follow the call (it was
    // redirected, or sent again after NOSCRIPT): counted as not replicated, the batch goes again.
    struct Result
    {
        bool called = false;
        bool waited = false;
        bool waitFirst = false;
        RedisError error;
        std::vector<RedisError> results;
        RedisReply wait;
        RedisError waitError;
    };
    auto result = std::make_shared<Result>();
    const size_t count = parts.size();
    const int wanted = m_waitReplicas;
    const int timeoutMs = m_waitTimeoutMs;
    auto done = [this, self = QPointer<StreamWriter>(this), sentNs, result, routeKey, wanted, timeoutMs, parts = std::move(parts)]() mutable {
        if (!self || !result->called || !result->waited)
            return;
        const int node = m_router->nodeOf(routeKey); // the one that answered, after a failover too
        const RedisError &error = result->waitError;
        if (!result->error.isError() && !error.isError())
            Metrics::instance().appendLatency(double(monotonicNs() - sentNs) / 1e9);
        const bool replicated = !result->waitFirst && !error.isError() && result->wait.integer >= wanted;
        if (replicated)
            m_waitFailingSince.remove(node);
        if (!result->error.isError() && !replicated
            && (result->waitFirst || !replicasGone(node, error.isError() ? 0 : int(result->wait.integer)))) {
            const RedisError notReplicated = error.isError() ? error
                : result->waitFirst ? RedisError{RedisError::Kind::Reply, QStringLiteral("TRYAGAIN the call was answered after its WAIT (redirected, or NOSCRIPT on that node)")}
                : RedisError{RedisError::Kind::Reply, QStringLiteral("TRYAGAIN the entries reached %1 of %2 replicas within %3 ms (WAIT)")
                                                          .arg(result->wait.integer).arg(wanted).arg(timeoutMs)};
            for (RedisError &r : result->results)
                if (!r.isError())
                    r = notReplicated;
        }
        finishCall(std::move(parts), result->error, result->results);
    };
    auto finished = std::make_shared<decltype(done)>(std::move(done));
    m_router->commandFormatted(routeKey, resp, [result, finished, count](const redisReply *reply, const RedisError &error) {
        result->called = true;
        result->error = error;
        result->results = partResults(reply, count, error);
        (*finished)();
    }, appendScript().source);
    WaitBatch &batch = m_waits[node];
    if (batch.routeKey.isEmpty())
        batch.routeKey = routeKey;
    batch.calls.push_back([result, finished](const RedisReply &reply, const RedisError &error) {
        result->waited = true;
        result->waitFirst = !result->called;
        result->wait = reply;
        result->waitError = error;
        (*finished)();
    });
}

// One WAIT per node for all the calls a flush sent there (WAIT covers every write before it on
// the connection; one per call would hold the connection for its timeout once per call while
// a new primary has no replica yet). Routed like the calls (by the first one's key, not to a
// fixed node): after a failover it goes to the new primary with them.
void StreamWriter::sendWaits()
{
    if (m_waits.empty())
        return;
    const QByteArray wanted = QByteArray::number(m_waitReplicas), timeout = QByteArray::number(m_waitTimeoutMs);
    for (auto it = m_waits.begin(); it != m_waits.end(); ++it)
        m_router->command(it->routeKey, {"WAIT", wanted, timeout}, [calls = std::move(it->calls)](const RedisReply &reply, const RedisError &error) {
            for (const auto &call : calls)
                call(reply, error);
        });
    m_waits.clear();
}

// One result per part of a call: its error reply, or none.
std::vector<RedisError> StreamWriter::partResults(const redisReply *reply, size_t parts, const RedisError &error)
{
    std::vector<RedisError> out(parts);
    const bool wellFormed = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == parts;
    for (size_t i = 0; i < parts; ++i) {
        if (error.isError())
            out[i] = error;
        else if (!wellFormed)
            out[i] = {RedisError::Kind::Protocol, QStringLiteral("unexpected reply to the append script")};
        else if (reply->element[i]->type == REDIS_REPLY_ERROR)
            out[i] = {RedisError::Kind::Reply, QString::fromUtf8(reply->element[i]->str, int(reply->element[i]->len))};
    }
    return out;
}

void StreamWriter::onCallReply(std::vector<CallPart> parts, const redisReply *reply, const RedisError &error)
{
    const size_t n = parts.size();
    finishCall(std::move(parts), error, partResults(reply, n, error));
}

// Profiling (HopTrace): the traced entries of a call reached `hop`. `sending`: the call was
// just written (nothing of it has been taken off the queue yet).
void StreamWriter::markHop(const std::vector<CallPart> &parts, int hop, bool sending) const
{
    for (const CallPart &part : parts) {
        auto it = m_streams.constFind(part.conversationId);
        if (it == m_streams.constEnd() || (!sending && part.epoch != it->epoch))
            continue;
        const qsizetype first = sending ? part.offset : 0;
        const qsizetype last = qMin<qsizetype>(first + part.count, qsizetype(it->queue.size()));
        for (auto p = it->queue.begin() + first; p < it->queue.begin() + last; ++p)
            if (!p->touchOnly)
                HopTrace::mark(HopTrace::find(part.conversationId, p->id), HopTrace::Hop(hop));
    }
}

void StreamWriter::finishCall(std::vector<CallPart> parts, const RedisError &error, const std::vector<RedisError> &results)
{
    if (HopTrace::on() && !error.isError())
        markHop(parts, HopTrace::Acked, false);
    // Before the parts: they must not be sent again before the backoff.
    const bool cluster = m_router->isCluster();
    if (error.isTransientReply() && !cluster)
        retryLater(error);
    else if (!error.isError())
        m_retryBackoffMs = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (results[i].isTransientReply()) {
            if (cluster)
                retryStream(parts[i].conversationId, results[i]);
            else
                retryLater(results[i]);
        }
        finishPart(parts[i], results[i]);
    }
    flush(); // streams that queued more while this call was out
}

void StreamWriter::finishPart(const CallPart &part, const RedisError &error)
{
    const QByteArray &conversationId = part.conversationId;
    auto it = m_streams.find(conversationId);
    if (it == m_streams.end())
        return;
    Stream &s = it.value();
    if (part.epoch != s.epoch)
        return; // a call that failed before this one already reset the stream
    if (error.isError()) {
        // Every call of this stream still out is void from here on: it is sent again (after a
        // connection error) or dropped with the queue (after an error reply).
        s.epoch = newEpoch();
        s.inFlight = 0;
        s.calls = 0;
    }
    // GAP: the call before this one is not in the stream (it failed, or a failover lost it
    // with a primary that had taken it); a redirect the router gave up following: both go
    // again from the first unacknowledged entry, which carries no `after` check.
    const bool gap = error.kind == RedisError::Kind::Reply && error.message.startsWith(QLatin1String("GAP"));
    const bool moved = error.kind == RedisError::Kind::Reply && ClusterRedirect::parse(error.message.toUtf8()).isRedirect();
    if (error.isRetryable() || gap || moved) {
        // Stays queued; sent again after the reconnect (or the transient error's backoff), and
        // the ids make the retry idempotent. A cluster has no one reconnect to wait for: the
        // router holds the resent call until the slot's primary answers.
        if (gap || moved || (m_router->isCluster() && error.isConnectionError()))
            resendSoon();
        return;
    }
    if (error.isError()) {
        qCWarning(lcWriter).noquote() << conversationId << "write refused by Redis:" << error.message;
        s.failed = true;
        for (const auto &p : s.queue)
            m_bufferedBytes -= p.bytes;
        s.queue.clear();
        const auto due = takeDueWaiters(s, true);
        const bool gone = s.released;
        if (gone)
            m_streams.erase(it);
        Q_EMIT failed(conversationId, error);
        if (gone)
            Q_EMIT stopped(conversationId);
        for (const auto &done : due) // last: they may append, which may move m_streams
            done(error);
        return;
    }
    s.inFlight -= part.count;
    --s.calls;
    EntryId last;
    bool wroteEntries = false;
    const EntryId previous = s.acked;
    QList<StreamEntry> entries;
    entries.reserve(part.count);
    for (int i = 0; i < part.count && !s.queue.empty(); ++i) {
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
    const auto due = takeDueWaiters(s, false);
    const bool empty = s.queue.empty();
    const bool gone = empty && s.released && s.calls == 0;
    if (!empty)
        markReady(conversationId, s);
    else if (gone)
        m_streams.erase(it);
    if (wroteEntries) {
        Q_EMIT appended(conversationId, previous, entries);
        Q_EMIT written(conversationId, last);
    }
    if (empty)
        Q_EMIT drained(conversationId);
    if (gone)
        Q_EMIT stopped(conversationId);
    for (const auto &done : due)
        done({});
}

bool StreamWriter::canWrite(const QByteArray &conversationId) const
{
    return m_router->isConnected(StreamKeys::stream(conversationId));
}
