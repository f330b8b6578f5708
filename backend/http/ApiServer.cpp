#include "http/ApiServer.h"

#include "http/GuardedTcpServer.h"
#include "http/agent/AgentApi.h"
#include "http/core/Admission.h"
#include "http/durable/DurableApi.h"
#include "http/core/Reply.h"
#include "http/responses/ResponsesApi.h"
#include "http/stream/StreamRegistry.h"
#include "redis/RedisRouter.h"
#include "runs/RunManager.h"
#include "runs/RunStore.h"

#include <QHttpServerRequest>
#include <QHttpServerResponder>
#include <QLoggingCategory>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrlQuery>

Q_LOGGING_CATEGORY(lcHttp, "agentstreams.http")

using Status = QHttpServerResponder::StatusCode;
using Method = QHttpServerRequest::Method;

namespace {
// How long GET /readyz waits for Redis to answer its PING before it says 503.
constexpr int kReadyProbeMs = 1000;

bool isOpenAiPath(const QByteArray &path)
{
    return path == "/v1" || path.startsWith("/v1/");
}
} // namespace

ApiServer::ApiServer(const Config &config, RunManager *runs, StreamHub *hub, RedisRouter *query, RedisRouter *writer,
                     QObject *parent)
    : QAbstractHttpServer(parent)
    , m_config(config)
    , m_runs(runs)
    , m_query(query)
    , m_writer(writer)
    , m_access(config.apiKeys)
    , m_store(std::make_unique<RunStore>(query, runs, hub))
    , m_admission(std::make_unique<Admission>(writer, runs, config.createsPerMinute, config.createBurst))
    , m_streams(new StreamRegistry(config, hub, this))
    , m_agentApi(std::make_unique<AgentApi>(config, runs, m_store.get(), m_streams, m_admission.get()))
    , m_responsesApi(std::make_unique<ResponsesApi>(config, runs, m_store.get(), m_streams, m_admission.get()))
    , m_durableApi(std::make_unique<DurableApi>(config, runs, m_store.get(), m_streams, m_admission.get(), writer, hub))
{
    addServerRoutes();
    m_agentApi->addRoutes(m_router);
    m_responsesApi->addRoutes(m_router);
    m_durableApi->addRoutes(m_router);
}

ApiServer::~ApiServer()
{
    delete m_streams; // streams still open end before the families they belong to
    m_streams = nullptr;
}

void ApiServer::addServerRoutes()
{
    const auto any = QHttpServerRequest::Method::AnyKnown;
    m_router.add(any, "/healthz", [](auto &, auto &&responder, auto &context) {
        Reply::json(responder, context, Status::Ok, {{QStringLiteral("status"), QStringLiteral("ok")}});
    }, true);
    m_router.add(any, "/readyz", [this](auto &, auto &&responder, auto &context) { readiness(std::move(responder), context); }, true);
    m_router.add(any, "/metrics", [this](auto &, auto &&responder, auto &context) {
        HttpUtil::send(responder, Status::Ok, "text/plain; version=0.0.4; charset=utf-8",
                       Metrics::instance().render(m_gauges ? m_gauges() : Metrics::Gauges{}), context.cors);
    });
    m_router.add(Method::Get, "/", [](auto &, auto &&responder, auto &context) {
        const QByteArray body = "Agent Streams is running.\n"
                                "POST /api/agent/create            start a run (body = prompt)\n"
                                "GET  /api/agent/stream/{id}       stream or resume (?cursor=<id>, Last-Event-ID)\n"
                                "GET  /api/agent/{id}              run status (JSON)\n"
                                "POST /api/agent/{id}/messages     add a turn to a conversation (body = prompt)\n"
                                "POST /api/agent/{id}/cancel       cancel a run\n"
                                "POST /v1/responses                OpenAI Responses API (background mode, streaming)\n"
                                "PUT|POST|GET|HEAD|DELETE /v1/stream/{name}   Durable Streams protocol\n"
                                "GET  /v1/stream/agents/{id}       a conversation as a durable JSON stream\n"
                                "GET  /healthz, /readyz\n";
        HttpUtil::send(responder, Status::Ok, "text/plain; charset=utf-8", body, context.cors);
    });
}

bool ApiServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    if (socket->property("agentstreams.streaming").toBool())
        return true; // pipelined behind a stream: the stream owns this socket until it closes
    GuardedTcpServer::requestHandled(socket);

    QHttpServerResponder responder = makeResponder(request, socket);
    const QByteArray path = request.url().path(QUrl::FullyEncoded).toUtf8();
    const auto method = request.method();
    RequestContext context;
    context.errors = isOpenAiPath(path) ? ErrorFormat::OpenAI
                     : wantsJsonErrors(HttpUtil::header(request, "Accept")) ? ErrorFormat::Json
                                                                             : ErrorFormat::Text;
    const bool originAllowed = HttpUtil::corsHeaders(HttpUtil::header(request, "Origin"), m_config.allowedOrigins, &context.cors);
    if (!originAllowed) {
        context.cors.clear();
        Reply::error(responder, context, Status::Forbidden, "origin_not_allowed",
                     QStringLiteral("this origin is not in the server's allowed origins (--allowed-origins)"));
        return true;
    }
    if (method == Method::Options) {
        responder.writeStatusLine(Status::NoContent);
        for (const auto &h : std::as_const(context.cors))
            responder.writeHeader(h.first, h.second);
        responder.writeHeader("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, HEAD, OPTIONS");
        // The last ones are the Durable Streams protocol's (/v1/stream).
        responder.writeHeader("Access-Control-Allow-Headers", "Content-Type, Accept, Last-Event-ID, Authorization, If-None-Match, "
                                                              "Stream-Seq, Stream-TTL, Stream-Expires-At, Stream-Closed, Stream-Forked-From, "
                                                              "Stream-Fork-Offset, Stream-Fork-Sub-Offset, Producer-Id, Producer-Epoch, Producer-Seq");
        responder.writeHeader("Access-Control-Max-Age", "600");
        responder.writeHeader("Content-Length", "0");
        responder.writeBody(QByteArray());
        return true;
    }

    const Router::Match route = m_router.match(method, path);
    if (!(route.handler && route.open)) {
        // Everything but the health checks needs a key when keys are configured.
        const QByteArray token = QUrlQuery(request.url()).queryItemValue(QStringLiteral("access_token"), QUrl::FullyDecoded).toUtf8();
        const auto tenant = m_access.authenticate(HttpUtil::header(request, "Authorization"), token);
        if (!tenant) {
            Reply::error(responder, context, Status::Unauthorized, context.errors == ErrorFormat::OpenAI ? "invalid_api_key" : "unauthorized",
                         QStringLiteral("a valid API key is required: send Authorization: Bearer <key>"),
                         {{"WWW-Authenticate", "Bearer realm=\"agent-streams\""}});
            return true;
        }
        context.tenant = *tenant;
        context.tenantFilter = m_access.enabled() ? *tenant : QByteArray("*");
        context.client = m_access.enabled() ? *tenant : request.remoteAddress().toString().toUtf8();
    }
    if (!route.pathKnown) {
        if (context.errors != ErrorFormat::OpenAI)
            return false; // missingHandler
        Reply::error(responder, context, Status::NotFound, "not_found",
                     QStringLiteral("no such endpoint: %1").arg(HttpUtil::printable(path)));
        return true;
    }
    if (!route.handler) {
        Reply::error(responder, context, Status::MethodNotAllowed, "method_not_allowed",
                     QStringLiteral("use %1 for %2").arg(QString::fromUtf8(route.allow), QString::fromUtf8(path)),
                     {{"Allow", route.allow}});
        return true;
    }
    context.args = route.args;
    (*route.handler)(request, std::move(responder), context);
    return true;
}

void ApiServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    QHttpServerResponder responder = makeResponder(request, socket);
    HttpUtil::sendError(responder, Status::NotFound, "not_found",
                        QStringLiteral("no such endpoint: %1 (see GET / for the list)").arg(HttpUtil::printable(request.url().path().toUtf8())),
                        wantsJsonErrors(HttpUtil::header(request, "Accept")));
}

// Ready = both routers up (on a cluster: some primary each), writes not waiting out a transient error, and Redis answering
// a PING within kReadyProbeMs (a frozen or loading Redis keeps its connections open).
void ApiServer::readiness(QHttpServerResponder &&responder, const RequestContext &context)
{
    auto answer = [context](QHttpServerResponder &r, const QString &problem) {
        const bool ready = problem.isEmpty();
        QJsonObject o{{QStringLiteral("status"), ready ? QStringLiteral("ready") : QStringLiteral("redis unavailable")}};
        if (!ready)
            o.insert(QStringLiteral("reason"), problem);
        Reply::json(r, context, ready ? Status::Ok : Status::ServiceUnavailable, o);
    };
    // A cluster with a shard failing over still serves every other shard (and new
    // conversations go to those): ready while each router reaches some primary.
    auto up = [](const RedisRouter *r) { return r->isCluster() ? r->connectedPrimaries() > 0 : r->isConnected(); };
    if (!up(m_query) || !up(m_writer)) {
        answer(responder, (up(m_query) ? m_writer : m_query)->lastError().message);
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
    m_query->commandOnNode(m_query->firstConnectedPrimary(), {"PING"}, [once](const RedisReply &, const RedisError &error) { once(error.isError() ? error.message : QString()); });
}
