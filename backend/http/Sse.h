#pragma once

#include <QByteArray>
#include <QByteArrayView>

// Server-Sent Events framing (pure functions).
namespace Sse {
// "id: <id>\nevent: <event>\ndata: <line>\n" per line of data "\n". Lines are split on CRLF, LF
// and lone CR (the three terminators an SSE parser knows), so any text round-trips through a
// conforming parser as the same lines joined by LF. Empty text gives one empty data line.
QByteArray event(const QByteArray &id, const QByteArray &event, const QByteArray &data);
// The same, appended to `out` (no temporary per event).
void appendEvent(QByteArray &out, QByteArrayView id, QByteArrayView event, QByteArrayView data);
// "retry: <ms>\n\n"
QByteArray retry(int ms);
// ": <text>\n\n" (text must not contain line breaks; they are replaced by spaces)
QByteArray comment(const QByteArray &text);
} // namespace Sse
