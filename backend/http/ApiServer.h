#pragma once

#include "Config.h"
#include "Metrics.h"
#include "http/AccessControl.h"
#include "http/core/Router.h"

#include <QAbstractHttpServer>
#include <memory>

class Admission;
class AgentApi;
class DurableApi;
class RedisRouter;
class ResponsesApi;
class RunManager;
class RunStore;
class StreamHub;
class StreamRegistry;

// The HTTP server (see README "HTTP API"): the dispatcher in front of the API families. It
// decides what is the same for every request (pipelining behind a stream, CORS and preflight,
// the API key, the error format, health and metrics) and hands the rest to the router, where
// each family (http/agent, http/responses) has added its routes.
class ApiServer : public QAbstractHttpServer
{
    Q_OBJECT
public:
    ApiServer(const Config &config, RunManager *runs, StreamHub *hub, RedisRouter *query, RedisRouter *writer,
              QObject *parent = nullptr);
    ~ApiServer() override;

    void setGauges(std::function<Metrics::Gauges()> gauges) { m_gauges = std::move(gauges); }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    void addServerRoutes();
    void readiness(QHttpServerResponder &&responder, const RequestContext &context);

    Config m_config;
    RunManager *m_runs;
    RedisRouter *m_query;
    RedisRouter *m_writer;
    AccessControl m_access;
    std::function<Metrics::Gauges()> m_gauges;
    Router m_router;
    std::unique_ptr<RunStore> m_store;
    std::unique_ptr<Admission> m_admission;
    StreamRegistry *m_streams; // a child
    std::unique_ptr<AgentApi> m_agentApi;
    std::unique_ptr<ResponsesApi> m_responsesApi;
    std::unique_ptr<DurableApi> m_durableApi;
};
