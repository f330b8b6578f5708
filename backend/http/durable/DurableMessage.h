#pragma once

#include "streams/StreamEntry.h"

#include <QByteArray>
#include <QList>

// What a stored entry is to a Durable Streams reader, for the two kinds of stream served at
// /v1/stream: the protocol's own (entries {d: bytes}, closed by a {type: done} marker that is
// not data) and agent conversations (every entry a JSON message {type, text}, closed by the
// run's done/error entry, which is a message too).
struct DurableMessage
{
    enum class Kind { Bytes, Json, Agent };

    // The entry closes the stream.
    static bool closes(const EntryView &entry, Kind kind) { return kind == Kind::Agent ? entry.isTerminal() : entry.type() == "done"; }
    // The entry carries a message (the protocol's close marker does not).
    static bool isData(const EntryView &entry, Kind kind) { return kind == Kind::Agent || entry.type() != "done"; }
    // The message's bytes (Agent: {"type":..,"text":..} plus code/message for errors).
    static QByteArray payload(const EntryView &entry, Kind kind);
    // A catch-up or long-poll body: the payloads one after another, or one JSON array.
    static QByteArray body(const QList<QByteArray> &payloads, Kind kind);
};
