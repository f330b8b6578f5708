#include "http/ApiServer.h"

#include "Metrics.h"
#include "http/GuardedTcpServer.h"
#include "http/SocketSender.h"
#include "http/StreamResponse.h"
#include "redis/RedisConnection.h"
#include "runs/ConversationId.h"
#include "runs/RunManager.h"
#include "streams/StreamHub.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QPointer>
#include <QStringDecoder>
#include <QTcpSocket>
#include <QTimer>
#include <QUrlQuery>

Q_LOGGING_CATEGORY(lcHttp, "agentstreams.http")

using Status = QHttpServerResponder::StatusCode;

namespace {
// KEYS[1] stream, KEYS[2] run record -> {number of the two that exist, owning tenant or "",
// run status or "", id of the newest entry or "", its type or ""}.
const char kLookupScript[] = R"lua(
local run = redis.call('HMGET', KEYS[2], 'tenant', 'status')
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id, kind = '', ''
if #top == 1 then
  id = top[1][1]
  local f = top[1][2]
  for i = 1, #f, 2 do if f[i] == 'type' then kind = f[i + 1] end end
end
return {redis.call('EXISTS', KEYS[1], KEYS[2]), run[1] or '', run[2] or '', id, kind}
)lua";
// How long GET /readyz waits for Redis to answer its PING before it says 503.
constexpr int kReadyProbeMs = 1000;
const QByteArray kStreamPrefix = "/api/agent/stream/";
const QByteArray kAgentPrefix = "/api/agent/";

QByteArray mediaType(const QByteArray &contentType)
{
    return contentType.split(';').first().trimmed().toLower();
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n';
}
} // namespace

ApiServer::ApiServer(const Config &config, RunManager *runs, StreamHub *hub, RedisConnection *query,
                     RedisConnection *writer, QObject *parent)
    : QAbstractHttpServer(parent)
    , m_config(config)
    , m_runs(runs)
    , m_hub(hub)
    , m_query(query)
    , m_writer(writer)
    , m_access(config.apiKeys)
    , m_createLimiter(config.createsPerMinute, config.createBurst)
{
    m_sender = SocketSender::create();
    // One timer for every open stream's keep-alive and Redis grace period.
    m_tick.setInterval(std::clamp(qMin(config.keepAliveMs, qMax(config.readerGraceMs, 100)) / 4, 25, 1000));
    connect(&m_tick, &QTimer::timeout, this, [this] {
        const qint64 now = StreamResponse::monotonicMs();
        const QList<StreamResponse *> streams = m_streams.keys(); // a tick may end streams
        for (StreamResponse *s : streams)
            if (m_streams.contains(s))
                s->tick(now);
    });
}

ApiServer::~ApiServer()
{
    // Streams still open get what can be written now; then the sender thread ends.
    const QList<StreamResponse *> streams = m_streams.keys();
    for (StreamResponse *s : streams)
        delete s;
    m_sender->stop();
}

bool ApiServer::corsHeaders(const QHttpServerRequest &request, HeaderPairs *out) const
{
    const QByteArray origin = HttpUtil::header(request, "Origin");
    if (origin.isEmpty())
        return true;
    const bool any = m_config.allowedOrigins.contains(QStringLiteral("*"));
    if (!any && !m_config.allowedOrigins.contains(QString::fromUtf8(origin)))
        return false;
    if (!HttpUtil::isSafeToken(origin))
        return false;
    out->emplace_back("Access-Control-Allow-Origin", any ? QByteArray("*") : origin);
    out->emplace_back("Vary", "Origin");
    out->emplace_back("Access-Control-Expose-Headers", "x-conversation-id, Retry-After");
    return true;
}

bool ApiServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    if (socket->property("agentstreams.streaming").toBool())
        return true; // pipelined behind a stream: the stream owns this socket until it closes
    GuardedTcpServer::requestHandled(socket);

    QHttpServerResponder responder = makeResponder(request, socket);
    const bool jsonErrors = wantsJsonErrors(HttpUtil::header(request, "Accept"));
    HeaderPairs cors;
    const bool originAllowed = corsHeaders(request, &cors);
    const QByteArray path = request.url().path(QUrl::FullyEncoded).toUtf8();
    const auto method = request.method();

    if (method == QHttpServerRequest::Method::Options) {
        if (!originAllowed) {
            HttpUtil::sendError(responder, Status::Forbidden, "origin_not_allowed",
                                QStringLiteral("this origin is not in the server's allowed origins (--allowed-origins)"), jsonErrors);
            return true;
        }
        responder.writeStatusLine(Status::NoContent);
        for (const auto &h : cors)
            responder.writeHeader(h.first, h.second);
        responder.writeHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        responder.writeHeader("Access-Control-Allow-Headers", "Content-Type, Accept, Last-Event-ID, Authorization");
        responder.writeHeader("Access-Control-Max-Age", "600");
        responder.writeHeader("Content-Length", "0");
        responder.writeBody(QByteArray());
        return true;
    }
    if (!originAllowed) {
        HttpUtil::sendError(responder, Status::Forbidden, "origin_not_allowed",
                            QStringLiteral("this origin is not in the server's allowed origins (--allowed-origins)"), jsonErrors);
        return true;
    }

    auto notAllowed = [&](const QByteArray &allow) {
        HttpUtil::sendError(responder, Status::MethodNotAllowed, "method_not_allowed",
                            QStringLiteral("use %1 for %2").arg(QString::fromUtf8(allow), QString::fromUtf8(path)), jsonErrors,
                            cors + HeaderPairs{{"Allow", allow}});
    };

    if (path == "/healthz") {
        HttpUtil::send(responder, Status::Ok, "application/json", json({{QStringLiteral("status"), QStringLiteral("ok")}}), cors);
        return true;
    }
    if (path == "/readyz") {
        readiness(std::move(responder), cors);
        return true;
    }
    // Everything below needs a key when keys are configured.
    const QByteArray token = QUrlQuery(request.url()).queryItemValue(QStringLiteral("access_token"), QUrl::FullyDecoded).toUtf8();
    const auto tenant = m_access.authenticate(HttpUtil::header(request, "Authorization"), token);
    if (!tenant) {
        HttpUtil::sendError(responder, Status::Unauthorized, "unauthorized",
                            QStringLiteral("a valid API key is required: send Authorization: Bearer <key>"), jsonErrors,
                            cors + HeaderPairs{{"WWW-Authenticate", "Bearer realm=\"agent-streams\""}});
        return true;
    }
    m_tenant = *tenant;
    m_client = m_access.enabled() ? *tenant : request.remoteAddress().toString().toUtf8();

    if (path == "/metrics") {
        HttpUtil::send(responder, Status::Ok, "text/plain; version=0.0.4; charset=utf-8", Metrics::instance().render(m_gauges ? m_gauges() : Metrics::Gauges{}), cors);
        return true;
    }
    if (path == "/api/agent/create") {
        if (method != QHttpServerRequest::Method::Post)
            notAllowed("POST");
        else
            create(request, std::move(responder), cors);
        return true;
    }
    QList<QByteArray> segments;
    auto splitId = [&](const QByteArray &rest) -> std::optional<QByteArray> {
        // One path segment, percent-decoded (so %40 works and %2F cannot smuggle a slash).
        const QByteArray segment = rest.split('/').first();
        auto id = ConversationId::normalize(QUrl::fromPercentEncoding(segment).toUtf8());
        if (!id) {
            HttpUtil::sendError(responder, Status::NotFound, "not_found",
                                QStringLiteral("\"%1\" is not a conversation id: use the x-conversation-id header of "
                                               "POST /api/agent/create (e.g. @dafx-travelplanner@<32 hex digits>)")
                                    .arg(HttpUtil::printable(QUrl::fromPercentEncoding(segment).toUtf8(), 60)),
                                jsonErrors, cors);
        }
        return id;
    };
    if (path.startsWith(kStreamPrefix)) {
        const QByteArray rest = path.mid(kStreamPrefix.size());
        if (rest.contains('/'))
            return false;
        if (method != QHttpServerRequest::Method::Get) {
            notAllowed("GET");
            return true;
        }
        if (auto id = splitId(rest))
            stream(request, std::move(responder), *id, cors);
        return true;
    }
    if (path.startsWith(kAgentPrefix)) {
        const QList<QByteArray> parts = path.mid(kAgentPrefix.size()).split('/');
        if (parts.size() == 1) {
            if (method != QHttpServerRequest::Method::Get) {
                notAllowed("GET");
                return true;
            }
            if (auto id = splitId(parts.at(0)))
                status(request, std::move(responder), *id, cors);
            return true;
        }
        if (parts.size() == 2 && parts.at(1) == "messages") {
            if (method != QHttpServerRequest::Method::Post) {
                notAllowed("POST");
                return true;
            }
            if (auto id = splitId(parts.at(0)))
                addMessage(request, std::move(responder), *id, cors);
            return true;
        }
        if (parts.size() == 2 && parts.at(1) == "cancel") {
            if (method != QHttpServerRequest::Method::Post) {
                notAllowed("POST");
                return true;
            }
            if (auto id = splitId(parts.at(0)))
                cancel(request, std::move(responder), *id, cors);
            return true;
        }
    }
    if (path == "/" && method == QHttpServerRequest::Method::Get) {
        const QByteArray body = "Agent Streams is running.\n"
                                "POST /api/agent/create            start a run (body = prompt)\n"
                                "GET  /api/agent/stream/{id}       stream or resume (?cursor=<id>, Last-Event-ID)\n"
                                "GET  /api/agent/{id}              run status (JSON)\n"
                                "POST /api/agent/{id}/messages     add a turn to a conversation (body = prompt)\n"
                                "POST /api/agent/{id}/cancel       cancel a run\n"
                                "GET  /healthz, /readyz\n";
        HttpUtil::send(responder, Status::Ok, "text/plain; charset=utf-8", body, cors);
        return true;
    }
    return false;
}

// Ready = both connections up, writes not waiting out a transient error, and Redis answering
// a PING within kReadyProbeMs (a frozen or loading Redis keeps its connections open).
void ApiServer::readiness(QHttpServerResponder &&responder, const HeaderPairs &cors)
{
    auto answer = [cors](QHttpServerResponder &r, const QString &problem) {
        const bool ready = problem.isEmpty();
        QJsonObject o{{QStringLiteral("status"), ready ? QStringLiteral("ready") : QStringLiteral("redis unavailable")}};
        if (!ready)
            o.insert(QStringLiteral("reason"), problem);
        HttpUtil::send(r, ready ? Status::Ok : Status::ServiceUnavailable, "application/json", json(o), cors);
    };
    if (!m_query->isConnected() || !m_writer->isConnected()) {
        answer(responder, (m_query->isConnected() ? m_writer : m_query)->lastError().message);
        return;
    }
    if (m_runs->writesStalled()) {
        answer(responder, QStringLiteral("writes are waiting for Redis to serve again"));
        return;
    }
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket = held->socket();
    auto answered = std::make_shared<bool>(false);
    auto once = [held, socket, answered, answer](const QString &problem) {
        if (*answered || !socket)
            return;
        *answered = true;
        answer(*held, problem);
    };
    QTimer::singleShot(kReadyProbeMs, this, [once] { once(QStringLiteral("Redis did not answer a PING within %1 ms").arg(kReadyProbeMs)); });
    m_query->command({"PING"}, [once](const RedisReply &, const RedisError &error) { once(error.isError() ? error.message : QString()); });
}

void ApiServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    QHttpServerResponder responder = makeResponder(request, socket);
    HttpUtil::sendError(responder, Status::NotFound, "not_found",
                        QStringLiteral("no such endpoint: %1 (see GET / for the list)").arg(HttpUtil::printable(request.url().path().toUtf8())),
                        wantsJsonErrors(HttpUtil::header(request, "Accept")));
}

bool ApiServer::readPrompt(const QHttpServerRequest &request, QHttpServerResponder &responder, const HeaderPairs &cors,
                           QString *text, QJsonObject *options)
{
    const bool jsonErrors = wantsJsonErrors(HttpUtil::header(request, "Accept"));
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
            HttpUtil::sendError(responder, Status::BadRequest, "invalid_json",
                                QStringLiteral("the body is not a JSON object (%1); send {\"prompt\": \"...\"}")
                                    .arg(error.error != QJsonParseError::NoError ? error.errorString() : QStringLiteral("not an object")),
                                jsonErrors, cors);
            return false;
        }
        const QJsonValue p = doc.object().value(QStringLiteral("prompt"));
        if (!p.isString()) {
            HttpUtil::sendError(responder, Status::BadRequest, "missing_prompt",
                                QStringLiteral("the JSON body needs a string field \"prompt\""), jsonErrors, cors);
            return false;
        }
        prompt = p.toString().toUtf8();
        *options = doc.object();
        options->remove(QStringLiteral("prompt"));
    } else {
        HttpUtil::sendError(responder, Status::UnsupportedMediaType, "unsupported_media_type",
                            QStringLiteral("Content-Type %1 is not supported: send the prompt as text/plain, or JSON {\"prompt\": \"...\"} "
                                           "as application/json")
                                .arg(HttpUtil::printable(type, 60)),
                            jsonErrors, cors);
        return false;
    }
    if (prompt.size() > m_config.maxPromptBytes) {
        HttpUtil::sendError(responder, Status::PayloadTooLarge, "prompt_too_large",
                            QStringLiteral("the prompt is %1 bytes; the limit is %2 bytes").arg(prompt.size()).arg(m_config.maxPromptBytes),
                            jsonErrors, cors);
        return false;
    }
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    *text = decoder.decode(prompt);
    if (decoder.hasError()) {
        HttpUtil::sendError(responder, Status::BadRequest, "invalid_utf8", QStringLiteral("the prompt is not valid UTF-8 text"),
                            jsonErrors, cors);
        return false;
    }
    if (text->trimmed().isEmpty()) {
        HttpUtil::sendError(responder, Status::BadRequest, "empty_prompt",
                            QStringLiteral("the prompt is empty: send the question as the request body"), jsonErrors, cors);
        return false;
    }
    return true;
}

void ApiServer::sendUnavailable(QHttpServerResponder &responder, const QString &why, bool jsonErrors, const HeaderPairs &cors)
{
    HttpUtil::sendError(responder, Status::ServiceUnavailable, "unavailable",
                        QStringLiteral("Redis is unavailable (%1); try again shortly").arg(why), jsonErrors,
                        cors + HeaderPairs{{"Retry-After", "2"}});
}

void ApiServer::sendNotFound(QHttpServerResponder &responder, const QByteArray &id, bool jsonErrors, const HeaderPairs &cors)
{
    HttpUtil::sendError(responder, Status::NotFound, "not_found",
                        QStringLiteral("conversation %1 does not exist or has expired").arg(QString::fromUtf8(id)), jsonErrors, cors);
}

bool ApiServer::checkWritable(QHttpServerResponder &responder, bool jsonErrors, const HeaderPairs &cors)
{
    if (m_writer->isConnected() && !m_runs->writesStalled())
        return true;
    sendUnavailable(responder, m_writer->isConnected() ? QStringLiteral("it is not serving writes yet, e.g. loading its data after a restart")
                                                       : m_writer->lastError().message,
                    jsonErrors, cors);
    return false;
}

void ApiServer::sendAccepted(QHttpServerResponder &responder, const QByteArray &id, const HeaderPairs &cors)
{
    // Background mode: the run goes on; the client comes back for the stream or the status.
    const QJsonObject o{{QStringLiteral("id"), QString::fromUtf8(id)},
                        {QStringLiteral("status"), QStringLiteral("in_progress")},
                        {QStringLiteral("stream_url"), QStringLiteral("/api/agent/stream/") + QString::fromUtf8(id)},
                        {QStringLiteral("status_url"), QStringLiteral("/api/agent/") + QString::fromUtf8(id)}};
    HttpUtil::send(responder, Status::Accepted, "application/json", json(o), cors + HeaderPairs{{"x-conversation-id", id}});
}

bool ApiServer::checkRate(QHttpServerResponder &responder, bool jsonErrors, const HeaderPairs &cors)
{
    int retryAfter = 1;
    if (m_createLimiter.take(m_client, &retryAfter))
        return true;
    Metrics::instance().rateLimited();
    HttpUtil::sendError(responder, Status::TooManyRequests, "rate_limited",
                        QStringLiteral("too many runs started; try again in %1 s (limit: %2 per minute, bursts of %3)")
                            .arg(retryAfter)
                            .arg(m_config.createsPerMinute)
                            .arg(m_config.createBurst),
                        jsonErrors, cors + HeaderPairs{{"Retry-After", QByteArray::number(retryAfter)}});
    return false;
}

// Everything a create or a new turn checks before it starts a run: the prompt, what the client
// accepts, Redis, the rate limit. On false the error response has been sent.
bool ApiServer::readTurnRequest(const QHttpServerRequest &request, QHttpServerResponder &responder, const HeaderPairs &cors,
                                QString *text, QJsonObject *options, ResponseFormat *format)
{
    const QByteArray accept = HttpUtil::header(request, "Accept");
    const bool jsonErrors = wantsJsonErrors(accept);
    if (!readPrompt(request, responder, cors, text, options))
        return false;
    *format = negotiateFormat(accept, true);
    if (*format == ResponseFormat::None) {
        HttpUtil::sendError(responder, Status::NotAcceptable, "not_acceptable",
                            QStringLiteral("can answer with text/event-stream, text/plain or application/json only"), jsonErrors, cors);
        return false;
    }
    return checkWritable(responder, jsonErrors, cors) && checkRate(responder, jsonErrors, cors);
}

void ApiServer::create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const HeaderPairs &cors)
{
    QString text;
    QJsonObject options;
    ResponseFormat format;
    if (!readTurnRequest(request, responder, cors, &text, &options, &format))
        return;
    EntryId first;
    const QByteArray id = m_runs->start(text, options, m_tenant, &first);
    if (format != ResponseFormat::Json) {
        openStream(std::move(responder), format, 200, id, EntryId{}, cors, m_client, true); // nothing to replay yet
        return;
    }
    // The id goes out once the run's first entry is stored: a client may open it at once on
    // another instance, which knows only what Redis holds.
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket = held->socket();
    const bool jsonErrors = wantsJsonErrors(HttpUtil::header(request, "Accept"));
    m_runs->whenStored(id, first, [this, held, socket, id, cors, jsonErrors](const RedisError &error) {
        if (!socket)
            return;
        if (error.isError())
            sendUnavailable(*held, error.message, jsonErrors, cors);
        else
            sendAccepted(*held, id, cors);
    });
}

void ApiServer::addMessage(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id,
                           const HeaderPairs &cors)
{
    const bool jsonErrors = wantsJsonErrors(HttpUtil::header(request, "Accept"));
    QString text;
    QJsonObject options;
    ResponseFormat format;
    if (!readTurnRequest(request, responder, cors, &text, &options, &format))
        return;
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket = held->socket();
    m_runs->addTurn(id, text, options, m_access.enabled() ? m_tenant : QByteArray("*"), [this, held, socket, id, format, cors, jsonErrors, client = m_client](int status, const QString &message, const EntryId &cursor) {
        if (!socket)
            return;
        if (status != 0) {
            const QByteArray code = status == 404 ? "not_found" : status == 409 ? "conflict" : "unavailable";
            HttpUtil::sendError(*held, QHttpServerResponder::StatusCode(status), code, message, jsonErrors,
                                status == 503 ? cors + HeaderPairs{{"Retry-After", "2"}} : cors);
            return;
        }
        if (format == ResponseFormat::Json)
            sendAccepted(*held, id, cors);
        else
            openStream(std::move(*held), format, 200, id, cursor, cors, client);
    });
}

void ApiServer::stream(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id, const HeaderPairs &cors)
{
    const QByteArray accept = HttpUtil::header(request, "Accept");
    const bool jsonErrors = wantsJsonErrors(accept);
    // Last-Event-ID wins over ?cursor=: EventSource reconnects with the same URL plus the header.
    QByteArray cursorText = HttpUtil::header(request, "Last-Event-ID").trimmed();
    if (cursorText.isEmpty())
        cursorText = QUrlQuery(request.url()).queryItemValue(QStringLiteral("cursor"), QUrl::FullyDecoded).toUtf8();
    QString error;
    const auto cursor = parseCursor(cursorText, &error);
    if (!cursor) {
        HttpUtil::sendError(responder, Status::BadRequest, "invalid_cursor", error, jsonErrors, cors);
        return;
    }
    const ResponseFormat format = negotiateFormat(accept, false);
    if (format == ResponseFormat::None) {
        HttpUtil::sendError(responder, Status::NotAcceptable, "not_acceptable",
                            QStringLiteral("the stream is available as text/event-stream or text/plain"), jsonErrors, cors);
        return;
    }
    // Keep the responder alive across the round trip; the socket may go meanwhile.
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket = held->socket();
    const QByteArray tenant = m_tenant;
    const bool checkTenant = m_access.enabled();
    const bool sent = m_query->command({"EVAL", kLookupScript, "2", StreamKeys::stream(id), StreamKeys::run(id)},
                                       [this, held, socket, id, cursor, format, cors, jsonErrors, tenant, checkTenant, client = m_client](const RedisReply &found, const RedisError &err) {
        RedisReply reply;
        const bool wellFormed = found.elements.size() == 5;
        reply.integer = wellFormed ? found.elements.at(0).integer : 0;
        if (checkTenant && wellFormed && found.elements.at(1).str != tenant)
            reply.integer = 0; // another key's conversation: as if it did not exist
        if (reply.integer == 0 && !err.isError() && !checkTenant && m_runs->isRunning(id))
            reply.integer = 1; // ours and just started: its first write may still be on its way
        if (!socket)
            return;
        if (err.isError()) {
            sendUnavailable(*held, err.message, jsonErrors, cors);
            return;
        }
        if (reply.integer == 0) {
            HttpUtil::sendError(*held, Status::NotFound, "not_found",
                                QStringLiteral("conversation %1 does not exist or has expired (streams are kept %2 minutes after their last activity)")
                                    .arg(QString::fromUtf8(id))
                                    .arg(double(m_config.ttlMs) / 60000.0),
                                jsonErrors, cors);
            return;
        }
        if (!cursor->isNull() && wellFormed) {
            const QByteArray status = found.elements.at(2).str;
            const QByteArray type = found.elements.at(4).str;
            const EntryId last = EntryId::parse(found.elements.at(3).str).value_or(EntryId{});
            const bool running = status == "in_progress" || status == "queued" || m_runs->isRunning(id);
            if (!running && (type == "done" || type == "error") && *cursor >= last) {
                // Nothing will follow: say so now. 204 makes an EventSource stop reconnecting
                // (HTML standard); plain text keeps an empty 200.
                // Closed after it like every stream response (Connection: close).
                const bool sse = format == ResponseFormat::Sse;
                Metrics::instance().httpResponse(sse ? 204 : 200);
                held->writeStatusLine(sse ? Status::NoContent : Status::Ok);
                if (!sse) // no Content-Length or Content-Type on a 204 (RFC 9110)
                    held->writeHeader("Content-Type", "text/plain; charset=utf-8");
                if (!sse)
                    held->writeHeader("Content-Length", "0");
                held->writeHeader("Cache-Control", "no-cache");
                held->writeHeader("Connection", "close");
                held->writeHeader("x-conversation-id", id);
                for (const auto &h : cors)
                    held->writeHeader(h.first, h.second);
                held->writeBody(QByteArray());
                socket->disconnectFromHost(); // after the bytes above are written
                return;
            }
            if (running && *cursor > last) {
                HttpUtil::sendError(*held, Status::BadRequest, "cursor_ahead",
                                    QStringLiteral("cursor %1 is ahead of the stream (its newest entry is %2): resume from an id "
                                                   "this stream sent you, or without a cursor to replay it")
                                        .arg(QString::fromUtf8(cursor->toBytes()),
                                             last.isNull() ? QStringLiteral("none yet") : QString::fromUtf8(last.toBytes())),
                                    jsonErrors, cors);
                return;
            }
        }
        openStream(std::move(*held), format, 200, id, *cursor, cors, client);
    });
    Q_UNUSED(sent); // on failure the callback has already answered 503
}

void ApiServer::openStream(QHttpServerResponder &&responder, ResponseFormat format, int status, const QByteArray &id,
                           const EntryId &after, const HeaderPairs &cors, const QByteArray &client, bool newStream)
{
    // `client` is passed in, not read from m_client: this may run in a Redis callback, after
    // other requests were dispatched.
    // Upper bounds first (they include streams whose end is being processed); at a limit, the
    // exact count, after asking every socket once whether its client left without the server
    // noticing yet (streaming sockets are not polled for reading).
    int total = int(m_streams.size());
    int mine = m_openByClient.value(client);
    if (total >= m_config.maxStreams || mine >= m_config.maxStreamsPerKey) {
        const QList<StreamResponse *> streams = m_streams.keys();
        for (StreamResponse *s : streams)
            if (m_streams.contains(s))
                s->probeClosed();
        total = mine = 0;
        for (auto it = m_streams.cbegin(); it != m_streams.cend(); ++it) {
            if (!it.key()->isGone()) {
                ++total;
                mine += it.value() == client;
            }
        }
    }
    if (total >= m_config.maxStreams || mine >= m_config.maxStreamsPerKey) {
        Metrics::instance().rateLimited();
        HttpUtil::sendError(responder, Status::TooManyRequests, "too_many_streams",
                            total >= m_config.maxStreams ? QStringLiteral("the server has %1 open streams, its limit; try again shortly").arg(m_config.maxStreams)
                                  : QStringLiteral("this key (or address) has %1 open streams, its limit; close some first").arg(m_config.maxStreamsPerKey),
                            false, cors + HeaderPairs{{"Retry-After", "5"}});
        return;
    }
    StreamResponse::Options options;
    options.format = format;
    options.status = status;
    options.extraHeaders = cors;
    options.keepAliveMs = m_config.keepAliveMs;
    options.retryMs = m_config.retryMs;
    options.graceMs = m_config.readerGraceMs;
    options.sender = m_sender;
    options.dropClientAboveBytes = m_config.clientBufferBytes;
    options.pauseReplayAboveBytes = qMin<qint64>(options.pauseReplayAboveBytes, m_config.clientBufferBytes / 4);
    auto *response = new StreamResponse(std::move(responder), options, m_hub, this);
    m_streams.insert(response, client);
    ++m_openByClient[client];
    if (!m_tick.isActive())
        m_tick.start();
    connect(response, &QObject::destroyed, &m_streamContext, [this, client, response] { // whatever way it ends
        if (--m_openByClient[client] <= 0)
            m_openByClient.remove(client);
        m_streams.remove(response);
        if (m_streams.isEmpty())
            m_tick.stop();
    });
    response->start(id, after, newStream);
}

void ApiServer::status(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id, const HeaderPairs &cors)
{
    const bool jsonErrors = true;
    Q_UNUSED(request);
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket = held->socket();
    const QByteArray tenant = m_tenant;
    const bool checkTenant = m_access.enabled();
    m_query->command({"HGETALL", StreamKeys::run(id)}, [held, socket, id, cors, jsonErrors, tenant, checkTenant](const RedisReply &reply, const RedisError &err) {
        if (!socket)
            return;
        if (err.isError()) {
            sendUnavailable(*held, err.message, jsonErrors, cors);
            return;
        }
        QByteArray owner;
        for (qsizetype i = 0; i + 1 < reply.elements.size(); i += 2)
            if (reply.elements.at(i).str == "tenant")
                owner = reply.elements.at(i + 1).str;
        if (reply.elements.isEmpty() || (checkTenant && owner != tenant)) {
            sendNotFound(*held, id, jsonErrors, cors);
            return;
        }
        QJsonObject o{{QStringLiteral("id"), QString::fromUtf8(id)}};
        for (qsizetype i = 0; i + 1 < reply.elements.size(); i += 2) {
            const QString key = QString::fromUtf8(reply.elements.at(i).str);
            const QByteArray value = reply.elements.at(i + 1).str;
            if (key == QLatin1String("tenant"))
                continue;
            bool isNumber = false;
            const qint64 number = value.toLongLong(&isNumber);
            if (isNumber && (key.endsWith(QLatin1String("_at")) || key == QLatin1String("turn")))
                o.insert(key, number);
            else
                o.insert(key, QString::fromUtf8(value));
        }
        o.insert(QStringLiteral("stream_url"), QStringLiteral("/api/agent/stream/") + QString::fromUtf8(id));
        HttpUtil::send(*held, Status::Ok, "application/json", json(o), cors);
    });
}

void ApiServer::cancel(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id, const HeaderPairs &cors)
{
    Q_UNUSED(request);
    const bool jsonErrors = true;
    auto held = std::make_shared<QHttpServerResponder>(std::move(responder));
    QPointer<QTcpSocket> socket = held->socket();
    const QByteArray tenant = m_tenant;
    const bool checkTenant = m_access.enabled();
    auto reply = [held, socket, id, cors](const QString &status, bool cancelled) {
        if (!socket)
            return;
        const QJsonObject o{{QStringLiteral("id"), QString::fromUtf8(id)}, {QStringLiteral("status"), status},
                            {QStringLiteral("cancelled"), cancelled}};
        HttpUtil::send(*held, Status::Ok, "application/json", json(o), cors);
    };
    auto unavailable = [held, socket, cors, jsonErrors](const RedisError &err) {
        if (socket)
            sendUnavailable(*held, err.message, jsonErrors, cors);
    };
    m_query->command({"HMGET", StreamKeys::run(id), "tenant", "status"},
                     [this, held, socket, id, cors, jsonErrors, tenant, checkTenant, reply, unavailable](const RedisReply &r, const RedisError &err) {
        if (err.isError()) {
            unavailable(err);
            return;
        }
        const QByteArray owner = r.elements.value(0).str;
        const bool exists = r.elements.size() == 2 && !r.elements.at(1).isNil();
        if (!exists || (checkTenant && owner != tenant)) {
            if (socket)
                sendNotFound(*held, id, jsonErrors, cors);
            return;
        }
        if (m_runs->cancel(id)) { // ours: stopped here and now
            reply(QStringLiteral("cancelled"), true);
            return;
        }
        const QByteArray status = r.elements.at(1).str;
        if (status != "in_progress" && status != "queued") {
            reply(QString::fromUtf8(status), false); // already over: cancelling again changes nothing
            return;
        }
        m_runs->cancelRemote(id, [this, id, reply, unavailable, status](bool cancelled, const RedisError &error) {
            m_hub->poke(id);
            if (error.isError())
                unavailable(error);
            else
                reply(cancelled ? QStringLiteral("cancelled") : QString::fromUtf8(status), cancelled);
        });
    });
}
