#include "http/HttpUtil.h"

#include "Metrics.h"

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
    responder.writeStatusLine(status);
    responder.writeHeader("Content-Type", contentType);
    responder.writeHeader("Content-Length", QByteArray::number(body.size()));
    responder.writeHeader("Cache-Control", "no-cache");
    for (const auto &h : extraHeaders)
        responder.writeHeader(h.first, h.second);
    responder.writeBody(body);
}

void sendError(QHttpServerResponder &responder, QHttpServerResponder::StatusCode status, const QByteArray &code,
               const QString &message, bool json, const HeaderPairs &extraHeaders)
{
    if (json) {
        const QJsonObject error{{QStringLiteral("code"), QString::fromUtf8(code)}, {QStringLiteral("message"), message}};
        const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("error"), error}}).toJson(QJsonDocument::Compact) + '\n';
        send(responder, status, "application/json", body, extraHeaders);
    } else {
        send(responder, status, "text/plain; charset=utf-8", message.toUtf8() + '\n', extraHeaders);
    }
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
