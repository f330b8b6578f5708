#include "http/responses/ResponsesApi.h"

#include "Metrics.h"

#include "http/core/Admission.h"
#include "http/core/Reply.h"
#include "http/responses/ResponseEventEncoder.h"
#include "http/responses/ResponseEvents.h"
#include "http/responses/ResponseWaiter.h"
#include "http/responses/ResponsesRequest.h"
#include "http/stream/StreamRegistry.h"
#include "runs/RunManager.h"
#include "runs/RunStore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>
#include <QTcpSocket>
#include <QUrlQuery>

using Status = QHttpServerResponder::StatusCode;
using Method = QHttpServerRequest::Method;

namespace {
QString notFound(const ResponseId &id)
{
    return QStringLiteral("Response with id '%1' not found.").arg(QString::fromLatin1(id.toBytes()));
}

QString query(const QHttpServerRequest &request, const char *name)
{
    return QUrlQuery(request.url()).queryItemValue(QLatin1String(name), QUrl::FullyDecoded);
}
} // namespace

void ResponsesApi::addRoutes(Router &router)
{
    router.add(Method::Post, "/v1/responses", [this](auto &request, auto &&responder, auto &context) {
        create(request, std::move(responder), context);
    });
    // Handlers of one response: {id} parsed first; an id that cannot be ours is simply not found.
    auto withId = [](auto handler) {
        return [handler](const QHttpServerRequest &request, QHttpServerResponder &&responder, RequestContext &context) {
            const QByteArray text = QUrl::fromPercentEncoding(context.args.value(0)).toUtf8();
            if (auto id = ResponseId::parse(text))
                handler(request, std::move(responder), context, *id);
            else
                Reply::error(responder, context, Status::NotFound, {},
                             QStringLiteral("Response with id '%1' not found.").arg(HttpUtil::printable(text, 80)));
        };
    };
    router.add(Method::Get, "/v1/responses/{id}", withId([this](auto &request, auto &&responder, auto &context, auto &id) {
        retrieve(request, std::move(responder), context, id);
    }));
    router.add(Method::Delete, "/v1/responses/{id}", withId([this](auto &, auto &&responder, auto &context, auto &id) {
        remove(std::move(responder), context, id);
    }));
    router.add(Method::Post, "/v1/responses/{id}/cancel", withId([this](auto &, auto &&responder, auto &context, auto &id) {
        cancel(std::move(responder), context, id);
    }));
    router.add(Method::Get, "/v1/responses/{id}/input_items", withId([this](auto &request, auto &&responder, auto &context, auto &id) {
        inputItems(request, std::move(responder), context, id);
    }));
}

void ResponsesApi::sendError(QHttpServerResponder &responder, const RequestContext &context, const RunError &error, const ResponseId &id)
{
    switch (error.kind) {
    case RunError::Kind::NotFound:
        Reply::error(responder, context, Status::NotFound, {}, notFound(id));
        break;
    case RunError::Kind::Busy: // the SDK retries a 409: it can succeed once the running turn ends
        Reply::error(responder, context, Status::Conflict, "conversation_busy", error.message, {{"Retry-After", "1"}},
                     "previous_response_id");
        break;
    default:
        Reply::unavailable(responder, context, error.message);
        break;
    }
}

void ResponsesApi::sendResponse(QHttpServerResponder &responder, const RequestContext &context, const QJsonObject &response,
                                const ResponseId &id)
{
    Reply::json(responder, context, Status::Ok, response, {{"x-conversation-id", id.conversationId}});
}

void ResponsesApi::create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context)
{
    ResponsesRequest::Error error;
    const auto body = ResponsesRequest::parse(request.body(), m_config.maxPromptBytes, &error);
    if (!body) {
        Reply::error(responder, context, Status::BadRequest, error.param.isEmpty() ? QByteArray("invalid_json") : QByteArray("invalid_value"),
                     error.message, {}, error.param);
        return;
    }
    // The model picks the provider: "demo" the offline planner, "synthetic" the benchmark
    // one, any other name the configured provider (the demo when none is configured).
    QJsonObject options = body->model == QLatin1String("synthetic") ? body->extra : QJsonObject();
    if (body->model == QLatin1String("demo") || body->model == QLatin1String("synthetic"))
        options.insert(QStringLiteral("provider"), body->model);
    if (body->model != QLatin1String("synthetic"))
        options.insert(QStringLiteral("demo_tools"), true); // the offline planner shows its tool call too
    if (body->hasInstructions)
        options.insert(QStringLiteral("instructions"), body->instructions);
    if (body->model == QLatin1String("synthetic") && !m_config.bench) {
        Reply::error(responder, context, Status::BadRequest, "model_not_found",
                     QStringLiteral("The model 'synthetic' is the benchmark provider: start the server with --bench."), {}, "model");
        return;
    }
    std::optional<ResponseId> previous;
    if (!body->previousResponseId.isEmpty()) {
        previous = ResponseId::parse(body->previousResponseId);
        if (!previous) {
            Reply::error(responder, context, Status::NotFound, {},
                         QStringLiteral("Previous response with id '%1' not found.").arg(HttpUtil::printable(body->previousResponseId)),
                         {}, "previous_response_id");
            return;
        }
    }
    if (!m_admission->writable(responder, context) || !m_admission->rate(responder, context))
        return;
    const FieldList turnFields{{"api", "responses"}, {"request", QJsonDocument(body->stored()).toJson(QJsonDocument::Compact)}};
    if (!previous) {
        EntryId first;
        const QByteArray conversation = m_runs->start(body->prompt(), options, context.tenant, &first, turnFields);
        if (auto id = ResponseId::of(conversation, first))
            started(std::move(responder), context, *body, *id, true);
        else
            Reply::error(responder, context, Status::InternalServerError, "server_error", QStringLiteral("the turn's id cannot be written"));
        return;
    }
    Held held(std::move(responder));
    const ResponseId prev = *previous;
    m_runs->addTurn(prev.conversationId, body->prompt(), options, context.tenantFilter,
                    [this, held, context, request = *body, prev](const RunError &error, const EntryId &turn) {
        if (held.gone())
            return;
        if (error.kind == RunError::Kind::NotFound) {
            Reply::error(*held, context, Status::NotFound, {},
                         QStringLiteral("Previous response with id '%1' not found.").arg(QString::fromLatin1(prev.toBytes())), {},
                         "previous_response_id");
            return;
        }
        if (error.isError()) {
            sendError(*held, context, error, prev);
            return;
        }
        if (auto id = ResponseId::of(prev.conversationId, turn))
            started(std::move(*held.responder), context, request, *id, false);
    }, turnFields);
}

// The turn is started (fresh: a new conversation whose first entry may not be stored yet).
void ResponsesApi::started(QHttpServerResponder &&responder, const RequestContext &context, const ResponsesRequest &body,
                           const ResponseId &id, bool fresh)
{
    const HeaderPairs headers{{"x-conversation-id", id.conversationId}};
    const EntryId after = fresh ? EntryId{} : id.turnEntry.previous();
    if (body.stream) {
        m_streams->open(std::move(responder), context, std::make_unique<ResponseEventEncoder>(id, -1, m_checkpoints), headers,
                        id.conversationId, after, fresh);
        return;
    }
    if (!body.background) {
        (new ResponseWaiter(std::move(responder), context, id, m_streams->hub()))->start(after, fresh);
        return;
    }
    // Background: the Response as it is now, once its turn is stored (another instance may be
    // asked for it next, and knows only what Redis holds).
    StreamEntry turn;
    turn.id = id.turnEntry;
    turn.fields = {{"type", "turn"}, {"request", QJsonDocument(body.stored()).toJson(QJsonDocument::Compact)}};
    ResponseEvents events(id);
    events.feed(EntryView::of(turn), nullptr);
    Held held(std::move(responder));
    m_runs->whenStored(id.conversationId, id.turnEntry, [held, context, response = events.response(), id](const RedisError &error) {
        if (held.gone())
            return;
        if (error.isError())
            Reply::unavailable(*held, context, RunError::unavailable(error.message).message);
        else
            sendResponse(*held, context, response, id);
    });
}

void ResponsesApi::load(const Held &held, const RequestContext &context, const ResponseId &id, int count, Loaded done)
{
    m_store->lookup(id.conversationId, context.tenantFilter, [this, held, context, id, count, done](const RunStore::Lookup &run,
                                                                                                           const RunError &error) {
        if (held.gone())
            return;
        if (error.isError()) {
            sendError(*held, context, error, id);
            return;
        }
        m_store->entriesFrom(id.conversationId, id.turnEntry, count, [held, context, id, done, running = run.running](
                                                                          const QList<EntryView> &entries, const RunError &error) {
            if (held.gone())
                return;
            ResponseEvents events(id);
            for (const EntryView &e : entries)
                if (events.feed(e, nullptr))
                    break;
            if (!error.isError() && !events.started())
                sendError(*held, context, RunError::notFound(id.conversationId), id);
            else if (error.isError())
                sendError(*held, context, error, id);
            else
                done(events, running);
        });
    });
}

void ResponsesApi::retrieve(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                            const ResponseId &id)
{
    const QString stream = query(request, "stream");
    Held held(std::move(responder));
    if (stream != QLatin1String("true")) {
        load(held, context, id, 0, [held, context, id](const ResponseEvents &events, bool) { sendResponse(*held, context, events.response(), id); });
        return;
    }
    qint64 startingAfter = -1;
    const QString after = query(request, "starting_after");
    if (!after.isEmpty()) {
        bool ok = false;
        startingAfter = after.toLongLong(&ok);
        if (!ok || startingAfter < 0) {
            Reply::error(*held, context, Status::BadRequest, "invalid_value",
                         QStringLiteral("Invalid 'starting_after': expected a sequence number (an integer >= 0)."), {}, "starting_after");
            return;
        }
    }
    // The turn entry alone says whether it may be streamed; the stream then replays the turn.
    load(held, context, id, 1, [this, held, context, id, startingAfter](const ResponseEvents &events, bool) {
        if (!events.request().value(QStringLiteral("background")).toBool()) {
            Reply::error(*held, context, Status::BadRequest, "invalid_request",
                         QStringLiteral("This response cannot be streamed because it was not created with background=true."), {}, "stream");
            return;
        }
        // A resume continues from this instance's latest checkpoint before it, if any, instead of
        // reading the response from its first entry again.
        const auto from = startingAfter >= 0 ? m_checkpoints->find(id, startingAfter) : std::nullopt;
        if (startingAfter >= 0)
            Metrics::instance().responseResumed(bool(from));
        auto encoder = std::make_unique<ResponseEventEncoder>(id, startingAfter, m_checkpoints, from ? &from->events : nullptr);
        m_streams->open(std::move(*held.responder), context, std::move(encoder), {{"x-conversation-id", id.conversationId}},
                        id.conversationId, from ? from->entry : id.turnEntry.previous());
    });
}

void ResponsesApi::cancel(QHttpServerResponder &&responder, const RequestContext &context, const ResponseId &id)
{
    Held held(std::move(responder));
    load(held, context, id, 0, [this, held, context, id](const ResponseEvents &events, bool running) {
        QJsonObject response = events.response();
        if (events.complete() || !running) { // idempotent: a finished response is returned as it is
            sendResponse(*held, context, response, id);
            return;
        }
        m_store->cancel(id.conversationId, context.tenantFilter, [held, context, id, response](const QByteArray &status, bool,
                                                                                                     const RunError &error) mutable {
            if (held.gone())
                return;
            if (error.isError()) {
                sendError(*held, context, error, id);
                return;
            }
            // The cancelled entry may still be on its way to Redis: the status is known now.
            response.insert(QStringLiteral("status"), QString::fromUtf8(status));
            sendResponse(*held, context, response, id);
        });
    });
}

void ResponsesApi::remove(QHttpServerResponder &&responder, const RequestContext &context, const ResponseId &id)
{
    Held held(std::move(responder));
    load(held, context, id, 1, [this, held, context, id](const ResponseEvents &, bool) {
        m_checkpoints->forget(id);
        m_store->hideTurn(id.conversationId, id.turnEntry, [held, context, id](const RunError &error) {
            if (held.gone())
                return;
            if (error.isError()) {
                sendError(*held, context, error, id);
                return;
            }
            Reply::json(*held, context, Status::Ok,
                        {{QStringLiteral("id"), QString::fromLatin1(id.toBytes())},
                         {QStringLiteral("object"), QStringLiteral("response")},
                         {QStringLiteral("deleted"), true}});
        });
    });
}

void ResponsesApi::inputItems(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                              const ResponseId &id)
{
    const QString order = query(request, "order").isEmpty() ? QStringLiteral("desc") : query(request, "order");
    const QString limitText = query(request, "limit");
    bool ok = true;
    const int limit = limitText.isEmpty() ? 20 : limitText.toInt(&ok);
    if (!ok || limit < 1 || limit > 100) {
        Reply::error(responder, context, Status::BadRequest, "invalid_value", QStringLiteral("Invalid 'limit': expected an integer from 1 to 100."),
                     {}, "limit");
        return;
    }
    if (order != QLatin1String("asc") && order != QLatin1String("desc")) {
        Reply::error(responder, context, Status::BadRequest, "invalid_value", QStringLiteral("Invalid 'order': expected asc or desc."), {}, "order");
        return;
    }
    const QString after = query(request, "after");
    Held held(std::move(responder));
    load(held, context, id, 1, [held, context, id, order, limit, after](const ResponseEvents &events, bool) {
        QJsonArray items;
        for (const QJsonValue &item : events.inputItems()) {
            if (order == QLatin1String("desc"))
                items.prepend(item);
            else
                items.append(item);
        }
        qsizetype start = 0;
        if (!after.isEmpty()) {
            while (start < items.size() && items.at(start).toObject().value(QStringLiteral("id")).toString() != after)
                ++start;
            start = start < items.size() ? start + 1 : items.size();
        }
        QJsonArray page;
        for (qsizetype i = start; i < items.size() && page.size() < limit; ++i)
            page.append(items.at(i));
        const auto idOf = [](const QJsonValue &v) { return v.toObject().value(QStringLiteral("id")); };
        Reply::json(*held, context, Status::Ok,
                    {{QStringLiteral("object"), QStringLiteral("list")},
                     {QStringLiteral("data"), page},
                     {QStringLiteral("first_id"), page.isEmpty() ? QJsonValue() : idOf(page.first())},
                     {QStringLiteral("last_id"), page.isEmpty() ? QJsonValue() : idOf(page.last())},
                     {QStringLiteral("has_more"), start + page.size() < items.size()}});
    });
}
