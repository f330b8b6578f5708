#pragma once

#include "http/ContentNegotiation.h"
#include "http/core/ApiFamily.h"
#include "streams/EntryId.h"

#include <QJsonObject>
#include <optional>

// The sample's API family, /api/agent/* (README "HTTP API", DESIGN.md "Wire protocol"): create,
// stream/resume, status, new turns, cancel. Knows its routes, bodies and answers; runs,
// lookups and streams belong to the objects it is given.
//
//   AgentApi agent(config, runs, store, streams, admission);
//   agent.addRoutes(router);
class AgentApi : public ApiFamily
{
public:
    using ApiFamily::ApiFamily;
    void addRoutes(Router &router) override;

private:
    void create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context);
    void addMessage(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                    const QByteArray &id);
    void stream(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id);
    void status(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id);
    void cancel(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id);
    // The conversation id of the route's {id}; nullopt after a 404 was sent.
    std::optional<QByteArray> conversationId(QHttpServerResponder &responder, const RequestContext &context) const;
    // Everything a create or a new turn checks before it starts a run: the prompt, what the
    // client accepts, Redis, the rate limit. On false the error response has been sent.
    bool readTurnRequest(const QHttpServerRequest &request, QHttpServerResponder &responder, const RequestContext &context,
                         QString *text, QJsonObject *options, ResponseFormat *format);
    bool readPrompt(const QHttpServerRequest &request, QHttpServerResponder &responder, const RequestContext &context,
                    QString *text, QJsonObject *options);
    void openStream(QHttpServerResponder &&responder, const RequestContext &context, ResponseFormat format, const QByteArray &id,
                    const EntryId &after, bool newStream = false);
    static void sendAccepted(QHttpServerResponder &responder, const RequestContext &context, const QByteArray &id);
    static void sendRunError(QHttpServerResponder &responder, const RequestContext &context, const struct RunError &error);
};
