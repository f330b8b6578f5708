#pragma once

#include "http/responses/ResponseEvents.h"
#include "http/stream/EventEncoder.h"

// The /v1/responses stream: `event: <type>` + `data: <json>` per event, no id: lines (the SDK
// resumes by sequence number). Events numbered up to startingAfter are counted but not made,
// so a resume continues exactly where the client stopped, on any instance.
class ResponseEventEncoder : public EventEncoder
{
public:
    ResponseEventEncoder(const ResponseId &id, qint64 startingAfter = -1);

    QByteArray contentType() const override { return "text/event-stream"; }
    QByteArray keepAlive() const override { return ": keep-alive\n\n"; }
    bool append(QByteArray &out, const EntryView &entry) override;
    qsizetype sizeHint(const EntryView &entry) const override { return entry.field("text").size() + 240; }
    void appendUnavailable(QByteArray &out, const EntryId &last) override;

private:
    ResponseEvents m_events;
    qint64 m_startingAfter;
};
