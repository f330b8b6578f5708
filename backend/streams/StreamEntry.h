#pragma once

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
// Every running run's conversation id, scored by its lease expiry (ms since epoch).
inline QByteArray leases() { return QByteArrayLiteral("agent-streams:leases"); }
// Sharded pub/sub channel in the conversation's slot: on a Redis Cluster the append scripts
// SPUBLISH the stream's new last id here, and live readers elsewhere SSUBSCRIBE to it.
inline constexpr char kWakePrefix[] = "agent-streams:wake:{";
inline QByteArray wake(const QByteArray &conversationId) { return wrapped(kWakePrefix, conversationId); }
} // namespace StreamKeys
