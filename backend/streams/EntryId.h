#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <optional>

// A Redis stream entry id "<ms>-<seq>". Ordered like Redis orders them.
struct EntryId
{
    quint64 ms = 0;
    quint64 seq = 0;

    bool isNull() const { return ms == 0 && seq == 0; }
    QByteArray toBytes() const; // "<ms>-<seq>", one allocation
    // The smallest id strictly greater than this one.
    EntryId next() const { return seq == ~quint64(0) ? EntryId{ms + 1, 0} : EntryId{ms, seq + 1}; }
    // The largest id strictly smaller than this one (this one when null).
    EntryId previous() const { return isNull() ? *this : seq == 0 ? EntryId{ms - 1, ~quint64(0)} : EntryId{ms, seq - 1}; }

    // Strict parser for ids that come from Redis or from a client's cursor: "<ms>-<seq>" with
    // decimal digits only, each part within 64 bits. "0" alone means the start of the stream.
    static std::optional<EntryId> parse(QByteArrayView text);

    friend bool operator==(const EntryId &a, const EntryId &b) { return a.ms == b.ms && a.seq == b.seq; }
    friend bool operator!=(const EntryId &a, const EntryId &b) { return !(a == b); }
    friend bool operator<(const EntryId &a, const EntryId &b) { return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq); }
    friend bool operator<=(const EntryId &a, const EntryId &b) { return !(b < a); }
    friend bool operator>(const EntryId &a, const EntryId &b) { return b < a; }
    friend bool operator>=(const EntryId &a, const EntryId &b) { return !(a < b); }
};

// The client's resume position: an optional ?cursor= or Last-Event-ID value. Empty = from the
// start. On failure returns nullopt and a message a person can act on.
std::optional<EntryId> parseCursor(const QByteArray &text, QString *error);
