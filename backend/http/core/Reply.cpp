#include "http/core/Reply.h"

#include <QJsonDocument>

namespace Reply {

QByteArray jsonBytes(const QJsonObject &body)
{
    return QJsonDocument(body).toJson(QJsonDocument::Compact) + '\n';
}

QByteArray openAiErrorBody(int status, const QByteArray &code, const QString &message, const QByteArray &param)
{
    const char *type = status == 401 ? "authentication_error"
                       : status == 403 ? "permission_error"
                       : status == 429 ? "rate_limit_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    const QJsonObject error{{QStringLiteral("message"), message},
                            {QStringLiteral("type"), QLatin1String(type)},
                            {QStringLiteral("param"), param.isEmpty() ? QJsonValue() : QJsonValue(QString::fromUtf8(param))},
                            {QStringLiteral("code"), code.isEmpty() ? QJsonValue() : QJsonValue(QString::fromUtf8(code))}};
    return jsonBytes({{QStringLiteral("error"), error}});
}

void error(QHttpServerResponder &responder, const RequestContext &context, Status status, const QByteArray &code,
           const QString &message, const HeaderPairs &extraHeaders, const QByteArray &param)
{
    if (context.errors == ErrorFormat::OpenAI) {
        HttpUtil::send(responder, status, "application/json", openAiErrorBody(int(status), code, message, param),
                       context.cors + extraHeaders);
        return;
    }
    HttpUtil::sendError(responder, status, code, message, context.errors == ErrorFormat::Json, context.cors + extraHeaders);
}

void json(QHttpServerResponder &responder, const RequestContext &context, Status status, const QJsonObject &body,
          const HeaderPairs &extraHeaders)
{
    HttpUtil::send(responder, status, "application/json", jsonBytes(body), context.cors + extraHeaders);
}

void unavailable(QHttpServerResponder &responder, const RequestContext &context, const QString &message)
{
    error(responder, context, Status::ServiceUnavailable, "unavailable", message, {{"Retry-After", "2"}});
}

} // namespace Reply
