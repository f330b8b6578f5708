#pragma once

#include <QByteArray>
#include <QtGlobal>

// A Redis stream entry id "<ms>-<seq>" as it travels in SSE `id:` fields and ?cursor=. Ids of
// one stream strictly increase, which is what duplicate detection relies on.
struct EventId
{
    quint64 ms = 0;
    quint64 seq = 0;
    bool valid = false;

    static EventId parse(const QByteArray &text); // invalid on anything but digits-digits
    QByteArray toText() const;

    friend bool operator<(const EventId &a, const EventId &b) { return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq); }
    friend bool operator==(const EventId &a, const EventId &b) { return a.valid == b.valid && a.ms == b.ms && a.seq == b.seq; }
    friend bool operator<=(const EventId &a, const EventId &b) { return !(b < a); }
};
