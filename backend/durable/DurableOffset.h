#pragma once

#include "streams/EntryId.h"

#include <QByteArray>
#include <optional>

// Durable Streams offsets over Redis stream ids. An offset names the position AFTER an entry:
// the entry id "<ms>-<seq>" zero-padded to "<20 digits>_<20 digits>", so that offsets compare
// as strings the way the ids compare as numbers (the protocol's clients sort them as strings).
// The start of a stream (before any entry) is the all-zero offset; a client says "-1" for it.
namespace DurableOffset {
QByteArray format(const EntryId &id);
// A client's ?offset=: "-1" (start), or "<digits>_<digits>" (ours, or a shorter zero-padded
// form of the same numbers). "now" is the caller's (it needs the tail).
std::optional<EntryId> parse(QByteArrayView text);
// The Stream-Cursor for a live answer: the current 20 s interval counted from 2024-10-09 (the
// protocol's epoch), moved past the client's cursor when it echoes one not behind it, so that
// CDNs never collapse two polls of one interval onto a stale answer.
QByteArray cursor(QByteArrayView clientCursor, qint64 nowMs);
} // namespace DurableOffset
