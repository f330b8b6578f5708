#pragma once

#include "http/durable/DurableMessage.h"
#include "http/stream/EventEncoder.h"

// A Durable Streams SSE read (live=sse): every message is an `event: data` (base64 for binary
// content types, one JSON array for JSON) followed by one `event: control` with the offset
// after it and a cursor. Controls say upToDate from the message that was the stream's tail when
// the read began (`tail`) on; a replay with nothing to send gets one control saying so. The
// stream's close is a control with streamClosed (the one after the last message when the
// stream was already closed), and the response ends there.
class DurableSseEncoder : public EventEncoder
{
public:
    DurableSseEncoder(DurableMessage::Kind kind, bool base64, const EntryId &start, const QByteArray &clientCursor, const EntryId &tail,
                      bool closed);

    QByteArray contentType() const override { return "text/event-stream"; }
    QByteArray keepAlive() const override { return ": keep-alive\n\n"; }
    bool append(QByteArray &out, const EntryView &entry) override;
    void appendCaughtUp(QByteArray &out) override;
    void appendUnavailable(QByteArray &out, const EntryId &last) override;

private:
    void control(QByteArray &out, bool closed);

    DurableMessage::Kind m_kind;
    bool m_base64;
    QByteArray m_offset; // after the last message sent
    QByteArray m_clientCursor;
    EntryId m_last;           // the last message sent (or the start)
    EntryId m_tail;           // the stream's tail when the read began
    bool m_closedAtTail;      // ... and whether it was closed then
    bool m_upToDateSent = false;
};
