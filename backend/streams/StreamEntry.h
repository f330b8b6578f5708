#pragma once

#include "streams/EntryId.h"

#include <QByteArray>
#include <QList>
#include <QPair>

using FieldList = QList<QPair<QByteArray, QByteArray>>;

// One entry of a conversation's stream. Fields: type (message, done, error, turn), text, seq,
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
    QByteArray type() const { return field("type"); }
    bool isTerminal() const
    {
        const QByteArray t = type();
        return t == "done" || t == "error";
    }
};

namespace StreamKeys {
inline QByteArray stream(const QByteArray &conversationId) { return "agent-stream:{" + conversationId + '}'; }
inline QByteArray run(const QByteArray &conversationId) { return "agent-run:{" + conversationId + '}'; }
// Every running run's conversation id, scored by its lease expiry (ms since epoch).
inline QByteArray leases() { return QByteArrayLiteral("agent-streams:leases"); }
} // namespace StreamKeys
