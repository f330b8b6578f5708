#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <optional>

// Pure parsing of the Durable Streams request headers and bodies (no I/O; fuzzed). Each
// parser returns nullopt (and a message for the client) on input the protocol says is a 400.
namespace DurableRequest {
// Stream-Closed counts only when it is exactly "true", in any case.
bool isTrue(const QByteArray &value);
// Stream-TTL: decimal seconds, no sign, no leading zeros, at most 10^12.
std::optional<qint64> ttlSeconds(const QByteArray &value, QString *error);
// Stream-Expires-At: RFC 3339 with a time zone; ms since the epoch.
std::optional<qint64> expiresAtMs(const QByteArray &value, QString *error);
// The media type, lower case, without parameters ("" when absent).
QByteArray normalizedType(const QByteArray &contentType);
bool isJson(const QByteArray &normalizedType);
// SSE sends these as text; everything else as base64.
bool isText(const QByteArray &normalizedType);
// A non-negative decimal integer as the protocol writes them: no sign, no leading zeros.
bool isCanonicalNumber(const QByteArray &value);
// A producer number: decimal, 0 .. 2^53-1.
bool isProducerNumber(const QByteArray &value);
// A JSON body as messages: an array flattened one level, anything else one message; each
// message is its own bytes, trimmed, as sent. nullopt = not JSON.
std::optional<QList<QByteArray>> jsonMessages(const QByteArray &body, QString *error);
// A JSON response body: the messages as one array.
QByteArray jsonArray(const QList<QByteArray> &messages);
// Stream names: 1..512 bytes, no control characters; "/" is not part of a route segment.
bool isValidName(const QByteArray &name);
} // namespace DurableRequest
