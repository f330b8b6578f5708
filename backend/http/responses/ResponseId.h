#pragma once

#include "streams/EntryId.h"

#include <QByteArray>
#include <optional>

// A response is one turn of a conversation: "resp_" + the conversation's 32 hex digits + the
// id of the turn's `turn` entry (12 hex digits of milliseconds, 4 of sequence). Pure: every
// instance maps an id to its stream without asking Redis.
struct ResponseId
{
    QByteArray conversationId; // "@dafx-travelplanner@<32 hex>"
    EntryId turnEntry;

    QByteArray toBytes() const;
    // The same 48 digits with another prefix ("msg_" for the answer's message item).
    QByteArray withPrefix(const QByteArray &prefix) const;
    // nullopt when the text is not such an id (sequence parts above 0xffff cannot be written).
    static std::optional<ResponseId> parse(const QByteArray &text);
    static std::optional<ResponseId> of(const QByteArray &conversationId, const EntryId &turnEntry);
};
