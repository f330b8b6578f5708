#pragma once

#include "redis/KeySlot.h"
#include "streams/EntryId.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>

struct redisReply;

using FieldList = QList<QPair<QByteArray, QByteArray>>;

// One entry of a conversation's stream. Fields: type (message, done, error, turn), text,
// ts, and per type: code + message (error), turn + prompt (turn).
struct StreamEntry
{
    EntryId id;
    QByteArray idText;
    FieldList fields;

    QByteArray field(const QByteArray &name) const
    {
        for (const auto &f : fields)
            if (f.first == name)
                return f.second;
        return {};
    }
};

// One entry read in place, without copies: straight from hiredis's reply to XRANGE/XREAD
// (valid only while that reply is, i.e. during the call that hands it out) or from a
// StreamEntry (valid while the entry is). Replays of thousands of entries frame SSE from these
// instead of copying every field into a QByteArray first.
struct EntryView
{
    EntryId id;
    QByteArrayView idText;
    const redisReply *kv = nullptr;     // [field, value, ...] of a reply, or
    const StreamEntry *entry = nullptr; // an entry of ours

    QByteArrayView field(QByteArrayView name) const;
    QByteArrayView type() const { return field("type"); }
    bool isTerminal() const
    {
        const QByteArrayView t = type();
        return t == "done" || t == "error";
    }
    StreamEntry toEntry() const;

    static EntryView of(const StreamEntry &entry) { return {entry.id, entry.idText, nullptr, &entry}; }
    static QList<EntryView> of(const QList<StreamEntry> &entries);
    // The entries of an XRANGE reply (or of one stream in an XREAD reply): [[id, [f, v, ...]], ...].
    // Malformed items are skipped.
    static QList<EntryView> ofReply(const redisReply *array);
};

namespace StreamKeys {
inline QByteArray wrapped(QByteArrayView prefix, const QByteArray &conversationId)
{
    QByteArray key;
    key.reserve(prefix.size() + conversationId.size() + 1);
    key.append(prefix).append(conversationId).append('}');
    return key;
}
inline constexpr char kStreamPrefix[] = "agent-stream:{";
inline constexpr char kRunPrefix[] = "agent-run:{";
inline QByteArray stream(const QByteArray &conversationId) { return wrapped(kStreamPrefix, conversationId); }
inline QByteArray run(const QByteArray &conversationId) { return wrapped(kRunPrefix, conversationId); }
// The legacy lease index of versions before per-slot buckets (one ZSET for every run): only
// swept, never written.
inline QByteArray leases() { return QByteArrayLiteral("agent-streams:leases"); }
// The lease bucket of one hash slot: a ZSET of the running runs whose keys live in that slot
// (member conversation id, score lease expiry ms). Its hash tag falls in the same slot, so a
// script may touch it together with the conversation's keys on a Redis Cluster.
inline constexpr char kLeaseBucketPrefix[] = "agent-streams:leases:{";
inline QByteArray leaseBucketOfSlot(int slot) { return wrapped(kLeaseBucketPrefix, KeySlot::tagForSlot(slot)); }
// The slot of every key of a conversation (the slot of its hash tag).
inline int slotOf(const QByteArray &conversationId) { return KeySlot::slotOf(stream(conversationId)); }
inline QByteArray leaseBucket(const QByteArray &conversationId) { return leaseBucketOfSlot(slotOf(conversationId)); }
// Every bucket that may hold a lease (a SET of bucket key names, added before a bucket's first
// ZADD, never removed): what the sweepers scan.
inline QByteArray leaseBuckets() { return QByteArrayLiteral("agent-streams:lease-buckets"); }
// A cluster keeps the registry three times, in slots a third of the slot space apart (5166,
// ~10,900, ~16,300: one per primary of an evenly split 3-primary cluster), so that a create does
// not wait for the failover of the one primary that held it: a bucket is usable once ANY copy
// lists it, the writer adds it to the others as they come back, and sweepers read the union.
// One server holds every copy: it keeps only the first.
inline QList<QByteArray> leaseBucketRegistries(bool cluster)
{
    if (!cluster)
        return {leaseBuckets()};
    return {leaseBuckets(), wrapped("agent-streams:lease-buckets:{", KeySlot::tagForSlot(10900)),
            wrapped("agent-streams:lease-buckets:{", KeySlot::tagForSlot(16300))};
}
// Sharded pub/sub channel a cluster-mode append publishes the new last entry id on, in the
// conversation's slot: wakes the live readers of other instances.
inline constexpr char kWakePrefix[] = "agent-streams:wake:{";
inline QByteArray wake(const QByteArray &conversationId) { return wrapped(kWakePrefix, conversationId); }
} // namespace StreamKeys
