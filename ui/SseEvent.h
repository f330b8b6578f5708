#pragma once

#include <QByteArray>

// One dispatched Server-Sent Event, as the SseParser rebuilds it from the wire.
struct SseEvent
{
    QByteArray id;    // the `id:` field of this event; empty when the event carried none
    QByteArray event; // the `event:` field; "message" when absent
    QByteArray data;  // the `data:` lines joined with "\n"

    bool operator==(const SseEvent &o) const { return id == o.id && event == o.event && data == o.data; }
};
