#pragma once

#include "http/core/ApiFamily.h"
#include "http/responses/ResponseCheckpoints.h"
#include "http/responses/ResponseId.h"
#include "runs/RunError.h"

class ResponseEvents;
struct ResponsesRequest;

// OpenAI's Responses API in background mode, served from the conversation streams
// (README "OpenAI Responses API"): a response is one turn of a conversation, its events are
// derived from the turn's entries (ResponseEvents), previous_response_id adds a turn to the
// same conversation. Errors in OpenAI's shape, with the statuses the SDK maps to its classes.
//
//   ResponsesApi responses(config, runs, store, streams, admission);
//   responses.addRoutes(router);
class ResponsesApi : public ApiFamily
{
public:
    using ApiFamily::ApiFamily;
    void addRoutes(Router &router) override;
    const ResponseCheckpoints &checkpoints() const { return *m_checkpoints; }

private:
    using Loaded = std::function<void(const ResponseEvents &, bool running)>;
    void create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context);
    void started(QHttpServerResponder &&responder, const RequestContext &context, const ResponsesRequest &body, const ResponseId &id,
                 bool fresh);
    void retrieve(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context, const ResponseId &id);
    void cancel(QHttpServerResponder &&responder, const RequestContext &context, const ResponseId &id);
    void remove(QHttpServerResponder &&responder, const RequestContext &context, const ResponseId &id);
    void inputItems(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                    const ResponseId &id);
    // Looks the response up (tenant, hidden turns) and hands over its state; on errors the
    // answer has been sent. count: entries to read from the turn on (0 = up to its end).
    void load(const Held &held, const RequestContext &context, const ResponseId &id, int count, Loaded done);
    static void sendError(QHttpServerResponder &responder, const RequestContext &context, const RunError &error, const ResponseId &id);
    static void sendResponse(QHttpServerResponder &responder, const RequestContext &context, const QJsonObject &response,
                             const ResponseId &id);

    // Shared with the open streams' encoders, which may outlive this object at shutdown.
    std::shared_ptr<ResponseCheckpoints> m_checkpoints = std::make_shared<ResponseCheckpoints>();
};
