#include "http/agent/AgentApi.h"

#include "Metrics.h"
#include "http/agent/AgentEventEncoder.h"
#include "http/core/Admission.h"
#include "http/core/Reply.h"
#include "http/stream/StreamRegistry.h"
#include "runs/ConversationId.h"
#include "runs/RunManager.h"
#include "runs/RunStore.h"

#include <QJsonDocument>
#include <QPointer>
#include <QStringDecoder>
#include <QTcpSocket>
#include <QUrlQuery>

using Status = QHttpServerResponder::StatusCode;
using Method = QHttpServerRequest::Method;

namespace {
QByteArray mediaType(const QByteArray &contentType)
{
    return contentType.split(';').first().trimmed().toLower();
}

} // namespace

void AgentApi::addRoutes(Router &router)
{
    router.add(Method::Post, "/api/agent/create", [this](auto &request, auto &&responder, auto &context) {
        create(request, std::move(responder), context);
    });
    auto withId = [this](auto handler) {
        return [this, handler](const QHttpServerRequest &request, QHttpServerResponder &&responder, RequestContext &context) {
            if (auto id = conversationId(responder, context))
                handler(request, std::move(responder), context, *id);
        };
    };
    router.add(Method::Get, "/api/agent/stream/{id}", withId([this](auto &request, auto &&responder, auto &context, auto &id) {
        stream(request, std::move(responder), context, id);
    }));
    router.add(Method::Get, "/api/agent/{id}", withId([this](auto &, auto &&responder, auto &context, auto &id) {
        context.errors = ErrorFormat::Json;
        status(std::move(responder), context, id);
    }));
    router.add(Method::Post, "/api/agent/{id}/messages", withId([this](auto &request, auto &&responder, auto &context, auto &id) {
        addMessage(request, std::move(responder), context, id);
    }));
    router.add(Method::Post, "/api/agent/{id}/cancel", withId([this](auto &, auto &&responder, auto &context, auto &id) {
        context.errors = ErrorFormat::Json;
        cancel(std::move(responder), context, id);
    }));
}

std::optional<QByteArray> AgentApi::conversationId(QHttpServerResponder &responder, const RequestContext &context) const
{
    // One path segment, percent-decoded (so %40 works and %2F cannot smuggle a slash).
    const QByteArray segment = QUrl::fromPercentEncoding(context.args.value(0)).toUtf8();
    auto id = ConversationId::normalize(segment);
    if (!id) {
        Reply::error(responder, context, Status::NotFound, "not_found",
                     QStringLiteral("\"%1\" is not a conversation id: use the x-conversation-id header of "
                                    "POST /api/agent/create (e.g. @dafx-travelplanner@<32 hex digits>)")
                         .arg(HttpUtil::printable(segment, 60)));
    }
    return id;
}

void AgentApi::sendRunError(QHttpServerResponder &responder, const RequestContext &context, const RunError &error)
{
    switch (error.kind) {
    case RunError::Kind::NotFound:
        Reply::error(responder, context, Status::NotFound, "not_found", error.message);
        break;
    case RunError::Kind::Busy:
        Reply::error(responder, context, Status::Conflict, "conflict", error.message);
        break;
    default:
        Reply::unavailable(responder, context, error.message);
        break;
    }
}

bool AgentApi::readPrompt(const QHttpServerRequest &request, QHttpServerResponder &responder, const RequestContext &context,
                          QString *text, QJsonObject *options)
{
    const QByteArray type = mediaType(HttpUtil::header(request, "Content-Type"));
    const QByteArray body = request.body(); // copied: the request dies with the handler
    QByteArray prompt;
    if (type.isEmpty() || type == "text/plain" || type == "application/x-www-form-urlencoded") {
        // curl -d sends form-urlencoded without encoding anything: the body is the prompt.
        prompt = body;
    } else if (type == "application/json") {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
        if (error.error != QJsonParseError::NoError || !doc.isObject()) {
            Reply::error(responder, context, Status::BadRequest, "invalid_json",
                         QStringLiteral("the body is not a JSON object (%1); send {\"prompt\": \"...\"}")
                             .arg(error.error != QJsonParseError::NoError ? error.errorString() : QStringLiteral("not an object")));
            return false;
        }
        const QJsonValue p = doc.object().value(QStringLiteral("prompt"));
        if (!p.isString()) {
            Reply::error(responder, context, Status::BadRequest, "missing_prompt", QStringLiteral("the JSON body needs a string field \"prompt\""));
            return false;
        }
        prompt = p.toString().toUtf8();
        *options = doc.object();
        options->remove(QStringLiteral("prompt"));
    } else {
        Reply::error(responder, context, Status::UnsupportedMediaType, "unsupported_media_type",
                     QStringLiteral("Content-Type %1 is not supported: send the prompt as text/plain, or JSON {\"prompt\": \"...\"} "
                                    "as application/json")
                         .arg(HttpUtil::printable(type, 60)));
        return false;
    }
    if (prompt.size() > m_config.maxPromptBytes) {
        Reply::error(responder, context, Status::PayloadTooLarge, "prompt_too_large",
                     QStringLiteral("the prompt is %1 bytes; the limit is %2 bytes").arg(prompt.size()).arg(m_config.maxPromptBytes));
        return false;
    }
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    *text = decoder.decode(prompt);
    if (decoder.hasError()) {
        Reply::error(responder, context, Status::BadRequest, "invalid_utf8", QStringLiteral("the prompt is not valid UTF-8 text"));
        return false;
    }
    if (text->trimmed().isEmpty()) {
        Reply::error(responder, context, Status::BadRequest, "empty_prompt",
                     QStringLiteral("the prompt is empty: send the question as the request body"));
        return false;
    }
    return true;
}

bool AgentApi::readTurnRequest(const QHttpServerRequest &request, QHttpServerResponder &responder, const RequestContext &context,
                               QString *text, QJsonObject *options, ResponseFormat *format)
{
    if (!readPrompt(request, responder, context, text, options))
        return false;
    *format = negotiateFormat(HttpUtil::header(request, "Accept"), true);
    if (*format == ResponseFormat::None) {
        Reply::error(responder, context, Status::NotAcceptable, "not_acceptable",
                     QStringLiteral("can answer with text/event-stream, text/plain or application/json only"));
        return false;
    }
    return m_admission->writable(responder, context) && m_admission->rate(responder, context);
}

void AgentApi::sendAccepted(QHttpServerResponder &responder, const RequestContext &context, const QByteArray &id)
{
    // Background mode: the run goes on; the client comes back for the stream or the status.
    const QJsonObject o{{QStringLiteral("id"), QString::fromUtf8(id)},
                        {QStringLiteral("status"), QStringLiteral("in_progress")},
                        {QStringLiteral("stream_url"), QStringLiteral("/api/agent/stream/") + QString::fromUtf8(id)},
                        {QStringLiteral("status_url"), QStringLiteral("/api/agent/") + QString::fromUtf8(id)}};
    Reply::json(responder, context, Status::Accepted, o, {{"x-conversation-id", id}});
}

void AgentApi::openStream(QHttpServerResponder &&responder, const RequestContext &context, ResponseFormat format, const QByteArray &id,
                          const EntryId &after, bool newStream)
{
    RequestContext text = context; // the stream limits answer in plain text, as they always have
    text.errors = ErrorFormat::Text;
    m_streams->open(std::move(responder), text, std::make_unique<AgentEventEncoder>(format, m_config.retryMs),
                    {{"x-conversation-id", id}}, id, after, newStream);
}

void AgentApi::create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context)
{
    QString text;
    QJsonObject options;
    ResponseFormat format;
    if (!readTurnRequest(request, responder, context, &text, &options, &format))
        return;
    EntryId first;
    const QByteArray id = m_runs->start(text, options, context.tenant, &first);
    if (format != ResponseFormat::Json) {
        openStream(std::move(responder), context, format, id, EntryId{}, true); // nothing to replay yet
        return;
    }
    // The id goes out once the run's first entry is stored: a client may open it at once on
    // another instance, which knows only what Redis holds.
    Held held(std::move(responder));
    m_runs->whenStored(id, first, [held, id, context](const RedisError &error) {
        if (held.gone())
            return;
        if (error.isError())
            Reply::unavailable(*held, context, RunError::unavailable(error.message).message);
        else
            sendAccepted(*held, context, id);
    });
}

void AgentApi::addMessage(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                          const QByteArray &id)
{
    QString text;
    QJsonObject options;
    ResponseFormat format;
    if (!readTurnRequest(request, responder, context, &text, &options, &format))
        return;
    Held held(std::move(responder));
    m_runs->addTurn(id, text, options, context.tenantFilter, [this, held, id, format, context](const RunError &error, const EntryId &turn) {
        if (held.gone())
            return;
        if (error.isError())
            sendRunError(*held, context, error);
        else if (format == ResponseFormat::Json)
            sendAccepted(*held, context, id);
        else
            openStream(std::move(*held.responder), context, format, id, turn.previous());
    });
}

void AgentApi::stream(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                      const QByteArray &id)
{
    const QByteArray accept = HttpUtil::header(request, "Accept");
    // Last-Event-ID wins over ?cursor=: EventSource reconnects with the same URL plus the header.
    QByteArray cursorText = HttpUtil::header(request, "Last-Event-ID").trimmed();
    if (cursorText.isEmpty())
        cursorText = QUrlQuery(request.url()).queryItemValue(QStringLiteral("cursor"), QUrl::FullyDecoded).toUtf8();
    QString error;
    const auto cursor = parseCursor(cursorText, &error);
    if (!cursor) {
        Reply::error(responder, context, Status::BadRequest, "invalid_cursor", error);
        return;
    }
    const ResponseFormat format = negotiateFormat(accept, false);
    if (format == ResponseFormat::None) {
        Reply::error(responder, context, Status::NotAcceptable, "not_acceptable",
                     QStringLiteral("the stream is available as text/event-stream or text/plain"));
        return;
    }
    Held held(std::move(responder));
    m_store->lookup(id, context.tenantFilter, [this, held, id, cursor, format, context](const RunStore::Lookup &run, const RunError &error) {
        if (held.gone())
            return;
        QHttpServerResponder &r = *held;
        if (error.kind == RunError::Kind::NotFound) {
            Reply::error(r, context, Status::NotFound, "not_found",
                         QStringLiteral("conversation %1 does not exist or has expired (streams are kept %2 minutes after their last activity)")
                             .arg(QString::fromUtf8(id))
                             .arg(double(m_config.ttlMs) / 60000.0));
            return;
        }
        if (error.isError()) {
            sendRunError(r, context, error);
            return;
        }
        if (!cursor->isNull() && run.ended() && *cursor >= run.last) {
            // Nothing will follow: say so now. 204 makes an EventSource stop reconnecting
            // (HTML standard); plain text keeps an empty 200.
            // Closed after it like every stream response (Connection: close).
            const bool sse = format == ResponseFormat::Sse;
            Metrics::instance().httpResponse(sse ? 204 : 200);
            r.writeStatusLine(sse ? Status::NoContent : Status::Ok);
            if (!sse) { // no Content-Length or Content-Type on a 204 (RFC 9110)
                r.writeHeader("Content-Type", "text/plain; charset=utf-8");
                r.writeHeader("Content-Length", "0");
            }
            r.writeHeader("Cache-Control", "no-cache");
            r.writeHeader("Connection", "close");
            r.writeHeader("x-conversation-id", id);
            for (const auto &h : context.cors)
                r.writeHeader(h.first, h.second);
            r.writeBody(QByteArray());
            held.socket->disconnectFromHost(); // after the bytes above are written
            return;
        }
        if (!cursor->isNull() && run.running && *cursor > run.last) {
            Reply::error(r, context, Status::BadRequest, "cursor_ahead",
                         QStringLiteral("cursor %1 is ahead of the stream (its newest entry is %2): resume from an id "
                                        "this stream sent you, or without a cursor to replay it")
                             .arg(QString::fromUtf8(cursor->toBytes()),
                                  run.last.isNull() ? QStringLiteral("none yet") : QString::fromUtf8(run.last.toBytes())));
            return;
        }
        openStream(std::move(r), context, format, id, *cursor);
    });
}

void AgentApi::status(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id)
{
    Held held(std::move(responder));
    m_store->record(id, context.tenantFilter, [held, id, context](const FieldList &fields, const RunError &error) {
        if (held.gone())
            return;
        if (error.isError()) {
            sendRunError(*held, context, error);
            return;
        }
        QJsonObject o{{QStringLiteral("id"), QString::fromUtf8(id)}};
        for (const auto &f : fields) {
            const QString key = QString::fromUtf8(f.first);
            bool isNumber = false;
            const qint64 number = f.second.toLongLong(&isNumber);
            if (isNumber && (key.endsWith(QLatin1String("_at")) || key == QLatin1String("turn")))
                o.insert(key, number);
            else
                o.insert(key, QString::fromUtf8(f.second));
        }
        o.insert(QStringLiteral("stream_url"), QStringLiteral("/api/agent/stream/") + QString::fromUtf8(id));
        Reply::json(*held, context, Status::Ok, o);
    });
}

void AgentApi::cancel(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id)
{
    Held held(std::move(responder));
    m_store->cancel(id, context.tenantFilter, [held, id, context](const QByteArray &status, bool cancelled, const RunError &error) {
        if (held.gone())
            return;
        if (error.isError()) {
            sendRunError(*held, context, error);
            return;
        }
        const QJsonObject o{{QStringLiteral("id"), QString::fromUtf8(id)}, {QStringLiteral("status"), QString::fromUtf8(status)},
                            {QStringLiteral("cancelled"), cancelled}};
        Reply::json(*held, context, Status::Ok, o);
    });
}
