#pragma once

#include "streams/StreamEntry.h"

#include <QByteArray>
#include <QList>

// What an API family's stream looks like on the wire: StreamResponse moves bytes and handles
// back-pressure; an encoder turns the conversation's entries into that family's events. One
// encoder per response (it may keep state: counters, the text so far), called in entry order.
class EventEncoder
{
public:
    virtual ~EventEncoder() = default;
    virtual QByteArray contentType() const = 0;
    // Bytes before the first event (SSE: a retry: line).
    virtual QByteArray prologue() const { return {}; }
    // What to send after a silence (an SSE comment); empty = nothing (plain text).
    virtual QByteArray keepAlive() const { return {}; }
    // Appends what one entry becomes. Returns true when the response is complete with it
    // (nothing after it belongs to this response).
    virtual bool append(QByteArray &out, const EntryView &entry) = 0;
    // What to send when the replay has reached the stream's head (Durable Streams: a control
    // event saying upToDate); nothing by default.
    virtual void appendCaughtUp(QByteArray &) {}
    // About how many bytes append() makes of a batch of entries (to size its buffer once: a
    // replay batch is megabytes, and growing it copies them again).
    virtual qsizetype sizeHint(const QList<EntryView> &entries) const
    {
        qsizetype n = 0;
        for (const EntryView &e : entries)
            n += e.idText.size() + e.field("text").size() + 40;
        return n;
    }
    // The last bytes when Redis stayed away for the grace period. `last`: the last entry delivered.
    virtual void appendUnavailable(QByteArray &out, const EntryId &last) = 0;
};
