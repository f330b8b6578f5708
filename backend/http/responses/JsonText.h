#pragma once

#include <QByteArray>
#include <QByteArrayView>

#include <cstring>

// JSON string literals written from UTF-8 exactly as QJsonDocument writes them (its escapes,
// bytes >= 0x80 as they are), and the raw appends the Responses encoder builds events with.
// Pure; tst_responses compares them with QJsonDocument byte for byte.
//
//   bool ascii; const qsizetype n = JsonText::escapedSize(text, &ascii);
//   JsonText::writeEscaped(JsonText::grow(out, n), text, n);
namespace JsonText {
// The size of text once escaped, and whether it is ASCII (16 bytes at a time where SSE2 is).
qsizetype escapedSize(QByteArrayView text, bool *ascii);
// Writes text escaped (size: escapedSize()) at p; returns the end.
char *writeEscaped(char *p, QByteArrayView text, qsizetype size);
// `"` + text escaped + `"`. Non-ASCII text must be valid UTF-8 to be copied as it is: otherwise
// it is decoded like QString::fromUtf8 does (U+FFFD for invalid bytes) and escaped again.
void appendQuoted(QByteArray &out, QByteArrayView utf8);
// Appends n bytes at the end of out and returns where they start: one resize, then the pieces
// are copied in without a capacity check each (append() per piece was most of a delta's cost).
char *grow(QByteArray &out, qsizetype n);
inline char *put(char *p, QByteArrayView bytes)
{
    if (!bytes.isEmpty())
        memcpy(p, bytes.data(), size_t(bytes.size()));
    return p + bytes.size();
}
} // namespace JsonText
