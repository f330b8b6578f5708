#pragma once

#include <QByteArray>
#include <QHttpServerResponder>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

class QHttpServerRequest;

using HeaderPairs = QList<QPair<QByteArray, QByteArray>>;

namespace HttpUtil {
// Case-insensitive header lookup (first match).
QByteArray header(const QHttpServerRequest &request, const QByteArray &name);
// Writes a complete response with Content-Length and Connection handling: the request guard
// (GuardedTcpServer) says whether the request asked to close (Connection: close, HTTP/1.0) and
// whether it was HEAD (headers only, Content-Length of the body it would have had).
void send(QHttpServerResponder &responder, QHttpServerResponder::StatusCode status, const QByteArray &contentType,
          const QByteArray &body, const HeaderPairs &extraHeaders = {});
// An error: JSON {"error":{"code":..,"message":..}} when json, else one line of text.
void sendError(QHttpServerResponder &responder, QHttpServerResponder::StatusCode status, const QByteArray &code,
               const QString &message, bool json, const HeaderPairs &extraHeaders = {});
// The body and Content-Type of such an error (shared with the guard, which has no responder).
QByteArray errorBody(const QByteArray &code, const QString &message, bool json);
QByteArray errorContentType(bool json);
// A whole response as bytes, for writing straight to a socket (the guard's refusals).
QByteArray rawResponse(int status, const QByteArray &contentType, const QByteArray &body, const HeaderPairs &headers);
QByteArray reasonPhrase(int status);
// CORS headers for a request's Origin (none without one); false when the origin is not allowed.
bool corsHeaders(const QByteArray &origin, const QStringList &allowedOrigins, HeaderPairs *out);
// Replaces control characters so a value can be quoted in a message or log safely.
QString printable(const QByteArray &raw, int maxChars = 80);
// True when the value holds no CR, LF or other control characters (header/id safety).
bool isSafeToken(const QByteArray &value);
} // namespace HttpUtil
