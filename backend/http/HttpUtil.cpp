#include "http/HttpUtil.h"

#include "Metrics.h"
#include "http/GuardedTcpServer.h"

#include <QHttpServerRequest>
#include <QJsonDocument>
#include <QJsonObject>

namespace HttpUtil {

QByteArray header(const QHttpServerRequest &request, const QByteArray &name)
{
    const auto headers = request.headers();
    for (const auto &h : headers)
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    return {};
}

void send(QHttpServerResponder &responder, QHttpServerResponder::StatusCode status, const QByteArray &contentType,
          const QByteArray &body, const HeaderPairs &extraHeaders)
{
    Metrics::instance().httpResponse(int(status));
    const GuardedTcpServer::ResponseMode mode = GuardedTcpServer::responseMode(responder.socket());
    responder.writeStatusLine(status);
    responder.writeHeader("Content-Type", contentType);
    responder.writeHeader("Content-Length", QByteArray::number(body.size()));
    responder.writeHeader("Cache-Control", "no-cache");
    for (const auto &h : extraHeaders)
        responder.writeHeader(h.first, h.second);
    // The guard closes the connection once this is written (it watches the socket drain).
    if (mode.close)
        responder.writeHeader("Connection", "close");
    else if (mode.http10KeepAlive)
        responder.writeHeader("Connection", "keep-alive");
    responder.writeBody(mode.headersOnly ? QByteArray() : body);
}

QByteArray errorBody(const QByteArray &code, const QString &message, bool json)
{
    if (!json)
        return message.toUtf8() + '\n';
    const QJsonObject error{{QStringLiteral("code"), QString::fromUtf8(code)}, {QStringLiteral("message"), message}};
    return QJsonDocument(QJsonObject{{QStringLiteral("error"), error}}).toJson(QJsonDocument::Compact) + '\n';
}

QByteArray errorContentType(bool json)
{
    return json ? QByteArray("application/json") : QByteArray("text/plain; charset=utf-8");
}

void sendError(QHttpServerResponder &responder, QHttpServerResponder::StatusCode status, const QByteArray &code,
               const QString &message, bool json, const HeaderPairs &extraHeaders)
{
    send(responder, status, errorContentType(json), errorBody(code, message, json), extraHeaders);
}

QByteArray rawResponse(int status, const QByteArray &contentType, const QByteArray &body, const HeaderPairs &headers)
{
    QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\nContent-Type: " + contentType
        + "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\nCache-Control: no-cache\r\n";
    for (const auto &h : headers)
        out += h.first + ": " + h.second + "\r\n";
    return out + "\r\n" + body;
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Server Error";
    }
}

bool corsHeaders(const QByteArray &origin, const QStringList &allowedOrigins, HeaderPairs *out)
{
    if (origin.isEmpty())
        return true;
    const bool any = allowedOrigins.contains(QStringLiteral("*"));
    if (!any && !allowedOrigins.contains(QString::fromUtf8(origin)))
        return false;
    if (!isSafeToken(origin))
        return false;
    out->emplace_back("Access-Control-Allow-Origin", any ? QByteArray("*") : origin);
    out->emplace_back("Vary", "Origin");
    out->emplace_back("Access-Control-Expose-Headers", "x-conversation-id, Retry-After");
    return true;
}

QString printable(const QByteArray &raw, int maxChars)
{
    QString text = QString::fromUtf8(raw);
    if (text.size() > maxChars)
        text = text.left(maxChars) + QStringLiteral("...");
    for (QChar &c : text)
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            c = QLatin1Char('?');
    return text;
}

bool isSafeToken(const QByteArray &value)
{
    for (const char c : value)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return false;
    return true;
}

} // namespace HttpUtil
