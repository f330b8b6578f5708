#pragma once

#include <QByteArray>
#include <QHttpServerResponder>
#include <QList>
#include <QPair>
#include <QString>

class QHttpServerRequest;

using HeaderPairs = QList<QPair<QByteArray, QByteArray>>;

namespace HttpUtil {
// Case-insensitive header lookup (first match).
QByteArray header(const QHttpServerRequest &request, const QByteArray &name);
// Writes a complete response with Content-Length and Connection handling.
void send(QHttpServerResponder &responder, QHttpServerResponder::StatusCode status, const QByteArray &contentType,
          const QByteArray &body, const HeaderPairs &extraHeaders = {});
// An error: JSON {"error":{"code":..,"message":..}} when json, else one line of text.
void sendError(QHttpServerResponder &responder, QHttpServerResponder::StatusCode status, const QByteArray &code,
               const QString &message, bool json, const HeaderPairs &extraHeaders = {});
// Replaces control characters so a value can be quoted in a message or log safely.
QString printable(const QByteArray &raw, int maxChars = 80);
// True when the value holds no CR, LF or other control characters (header/id safety).
bool isSafeToken(const QByteArray &value);
} // namespace HttpUtil
