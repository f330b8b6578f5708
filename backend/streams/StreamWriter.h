#pragma once

#include "redis/RedisError.h"
#include "redis/RedisReply.h"
#include "streams/StreamEntry.h"

#include <QHash>
#include <QSet>
#include <QObject>
#include <QTimer>
#include <deque>
#include <functional>
#include <vector>

class RedisRouter;
struct redisReply;

// The write side of the durable log. Appends are given writer-assigned, strictly increasing
// ids at once and written in batches: everything appended during one event-loop turn goes out
// as script calls (per stream: XADD each entry, HSET the run record, its lease in the slot's
// lease bucket, PEXPIRE both keys), so a chunk costs a share of one round trip however many
// runs write. One server: ONE call per turn for every stream. A Redis Cluster: one call per
// hash slot (a script's keys must share a slot), sent to that slot's primary by the router,
// and each stream's part ends with an SPUBLISH wake-up on StreamKeys::wake() for the live
// readers of other instances.
// A stream has at most two calls in flight, the second checked by the script against the
// first (order, no holes, idempotent retries); calls are pipelined.
//
// While Redis is unreachable entries wait in memory (bounded by maxBufferedBytes) and are sent
// again, in order, after the reconnect; a batch whose first attempt did land is recognised by
// its ids and skipped, never duplicated. A transient error reply (LOADING after a restart,
// BUSY, READONLY/MASTERDOWN after a failover, TRYAGAIN, CLUSTERDOWN) is treated the same way:
// the entries stay queued and go out again with the same ids after a short backoff (one
// server: the whole writer waits; a cluster: only the streams that got the reply). On a
// cluster, MOVED/ASK/TRYAGAIN/CLUSTERDOWN are followed by the router per call, and the streams
// of a primary that is down wait in the writer until the router has a connected primary for
// their slot again, so the streams of other primaries keep going; a GAP (the call before was
// lost, e.g. by a failover) sends the stream again from its first unacknowledged entry.
// Without setWaitReplicas(), entries a failed primary had acknowledged but not yet replicated
// are lost with it (the stream continues after that hole).
//
// Lease buckets: before the first call that may ZADD into a bucket, the bucket is added to
// the registry (once per bucket per process); one server pipelines that SADD ahead of the
// call. A cluster keeps the registry in three copies (StreamKeys::leaseBucketRegistries, on
// other nodes): it waits for the first copy that confirms and adds the bucket to the others
// later.
//
// The router may outlive the writer: its callbacks check that the writer is still there.
//
//   writer->append(convId, {{"type","message"},{"text","Hello"}});
//   connect(writer, &StreamWriter::failed, ...); // bound exceeded or a Redis error reply
class StreamWriter : public QObject
{
    Q_OBJECT
public:
    StreamWriter(RedisRouter *router, QObject *parent = nullptr);

    void setTtlMs(qint64 ttlMs) { m_ttlMs = ttlMs; }
    qint64 ttlMs() const { return m_ttlMs; }
    void setMaxBufferedBytes(qint64 bytes) { m_maxBufferedBytes = bytes; }
    // Entries count as stored once this many replicas have them too (one WAIT per node behind
    // each flush's calls there); 0 = the primary's acknowledgement is enough. A primary left
    // without enough replicas for 3 s (e.g. the one a failover promoted) is acknowledged from
    // alone until ROLE lists them again.
    void setWaitReplicas(int replicas, int timeoutMs = 1000)
    {
        m_waitReplicas = replicas;
        m_waitTimeoutMs = timeoutMs;
    }

    // Makes the next id for this stream greater than `last` (e.g. the top entry of an existing
    // conversation before a new turn).
    void prime(const QByteArray &conversationId, const EntryId &last);
    // Queues an entry; returns its id. runFields are HSET on the run record in the same call.
    // lease: -1 leaves the run's lease alone, 0 drops it, else its expiry (ms since epoch).
    EntryId append(const QByteArray &conversationId, FieldList fields, const FieldList &runFields = {}, qint64 lease = -1);
    // Refreshes the TTL of both keys (run heartbeat) and optionally updates the run record.
    void touch(const QByteArray &conversationId, const FieldList &runFields = {}, qint64 lease = -1);
    // Stops tracking a stream once everything queued for it has been written.
    void release(const QByteArray &conversationId);

    // done(no error) once the lease bucket of the conversation's slot is listed in
    // a copy of the registry (at once when it is already): for other scripts that ZADD there.
    void whenBucketListed(const QByteArray &conversationId, std::function<void(const RedisError &)> done);

    // The primary that takes this conversation's writes is connected now (one server: it is up).
    bool canWrite(const QByteArray &conversationId) const;
    qint64 bufferedBytes() const { return m_bufferedBytes; }
    // Script calls sent so far (retries included): one per slot and turn on a cluster.
    quint64 callsSent() const { return m_callsSent; }
    quint64 entriesWritten() const { return m_entriesWritten; }
    bool hasPending(const QByteArray &conversationId) const;
    bool hasPending() const { return m_bufferedBytes > 0; }
    // True while this writer owns the stream (a run of this process is writing it).
    bool isTracking(const QByteArray &conversationId) const { return m_streams.contains(conversationId); }
    // True while Redis answers writes with a transient error and they wait for the next attempt.
    bool isStalled() const { return m_retryTimer.isActive(); }
    // Calls done(no error) once every entry up to `id` of the stream is stored, or done(the
    // error) when the stream's writes failed for good. At once when nothing up to `id` is
    // still queued. For answers that hand out an id: a client must find it on any instance.
    void whenStored(const QByteArray &conversationId, const EntryId &id, std::function<void(const RedisError &)> done);

Q_SIGNALS:
    // Everything up to and including `last` is stored in Redis.
    void written(const QByteArray &conversationId, const EntryId &last);
    // The same, with the entries themselves: they directly follow `previous` in the stream, so
    // a reader positioned at `previous` can take them without reading them back from Redis.
    void appended(const QByteArray &conversationId, const EntryId &previous, const QList<StreamEntry> &entries);
    // The stream cannot be written (buffer bound exceeded, or Redis refused the write).
    void failed(const QByteArray &conversationId, const RedisError &error);
    void drained(const QByteArray &conversationId);
    // This writer no longer writes the conversation (isTracking() turned false): whatever is
    // appended to it from now on comes from elsewhere.
    void stopped(const QByteArray &conversationId);

private:
    struct Pending
    {
        EntryId id;
        FieldList fields;
        FieldList runFields;
        qint64 bytes = 0;
        bool touchOnly = false;
        qint64 lease = -1;
        bool terminal = false;
    };
    struct Stream
    {
        EntryId last;
        EntryId acked; // the newest entry known to be stored (primed, or acknowledged)
        std::deque<Pending> queue;
        int inFlight = 0; // entries of the queue's front that are in calls still out
        int calls = 0; // calls still out (at most kMaxCallsPerStream)
        // A new value when a call fails (replies to the calls sent before are void), unique
        // across streams so that a stream dropped and tracked again never matches old calls.
        quint64 epoch = newEpoch();
        bool released = false;
        bool failed = false;
        bool ready = false; // listed in m_ready
        int slot = -1; // hash slot of the conversation's keys (set on first flush)
        qint64 ttlSetMs = 0; // when a call last set both keys' TTL (ms since epoch)
        std::vector<std::pair<EntryId, std::function<void(const RedisError &)>>> waiters; // see whenStored()
    };
    static quint64 newEpoch()
    {
        static quint64 epochs = 0;
        return ++epochs;
    }
    struct CallPart
    {
        QByteArray conversationId;
        int offset = 0; // first queue entry carried by the call (entries before it are in earlier calls)
        int count = 0; // queue entries carried by the call
        quint64 epoch = 0;
        int slot = 0; // the conversation's hash slot (its lease bucket's)
    };
    void scheduleFlush();
    void flush();
    void markReady(const QByteArray &conversationId, Stream &s);
    static bool mayCall(const Stream &s); // a call of this stream may go out now
    void markReady(const QSet<QByteArray> &conversationIds); // those still tracked
    void sendCall(std::vector<CallPart> parts);
    // SADD of these slots' buckets to the registry; their waiters run with the result.
    void listBuckets(const QList<int> &slotList);
    void settleBuckets(const QList<int> &slotList, const RedisError &error); // Listed (no error) or Unknown; waiters run
    void relist(); // m_unlisted into their registry copies
    void resendSoon();
    void sendWaits();
    bool slotConnected(int slot);
    void onCallReply(std::vector<CallPart> parts, const redisReply *reply, const RedisError &error);
    static std::vector<RedisError> partResults(const redisReply *reply, size_t parts, const RedisError &error);
    void markHop(const std::vector<CallPart> &parts, int hop, bool sending) const;
    void finishCall(std::vector<CallPart> parts, const RedisError &error, const std::vector<RedisError> &results);
    void finishPart(const CallPart &part, const RedisError &error);
    void enqueue(const QByteArray &conversationId, Pending pending, bool terminal);
    void retryLater(const RedisError &error);
    void retryStream(const QByteArray &conversationId, const RedisError &error);
    void backOff(QTimer &timer, const RedisError &error, const char *what);
    bool replicasGone(int node, int acknowledged);
    void probeReplicas();
    // The whenStored() callbacks now due (all: the stream failed); the caller runs them last.
    static std::vector<std::function<void(const RedisError &)>> takeDueWaiters(Stream &s, bool all);

    enum class Bucket : quint8 { Unknown, Pending, Listed };
    RedisRouter *m_router;
    QHash<QByteArray, Stream> m_streams;
    std::deque<QByteArray> m_ready; // streams with queued entries and no call in flight
    std::vector<Bucket> m_buckets; // by slot, see whenBucketListed
    QHash<int, std::vector<std::function<void(const RedisError &)>>> m_bucketWaiters;
    quint64 m_callsSent = 0;
    // Registry copies (index into StreamKeys::leaseBucketRegistries) that missed slots a
    // listing gave the others; added by the relist timer once their primary is back.
    QHash<int, QSet<int>> m_unlisted;
    QTimer m_relistTimer;
    QTimer m_resendTimer; // after a GAP or a lost call on a cluster: the streams go out again soon
    qint64 m_ttlMs = 10 * 60 * 1000;
    qint64 m_maxBufferedBytes = 64 * 1024 * 1024;
    qint64 m_bufferedBytes = 0;
    quint64 m_entriesWritten = 0;
    qsizetype m_lastCallBytes = 0; // size of the last call: the next one reserves that much
    bool m_flushScheduled = false;
    QTimer m_retryTimer; // armed after a transient error reply: everything queued goes out again
    int m_retryBackoffMs = 0;
    int m_waitReplicas = 0;
    int m_waitTimeoutMs = 1000;
    QHash<int, qint64> m_waitFailingSince; // by primary: since when WAIT has come back short
    QSet<int> m_waitDegraded; // primaries acknowledged from alone (see replicasGone)
    QSet<QByteArray> m_retrying; // cluster: streams waiting out a transient error reply
    QSet<QByteArray> m_parked; // cluster: streams whose primary is not connected
    QTimer m_streamRetryTimer;
    struct WaitBatch
    {
        QByteArray routeKey;
        std::vector<std::function<void(const RedisReply &, const RedisError &)>> calls;
    };
    QHash<int, WaitBatch> m_waits; // by node: the calls of this flush that wait for replicas
    QTimer m_replicaProbe;
};
