#pragma once

#include "Config.h"
#include "http/core/Router.h"

#include <QPointer>
#include <QTcpSocket>
#include <memory>

class Admission;
class RunManager;
class RunStore;
class StreamRegistry;

// What every API family (http/agent, http/responses, ...) is built on: the configuration, the
// runs, their lookups, the open streams and the admission checks. A family adds its routes.
class ApiFamily
{
public:
    ApiFamily(const Config &config, RunManager *runs, RunStore *store, StreamRegistry *streams, Admission *admission)
        : m_config(config)
        , m_runs(runs)
        , m_store(store)
        , m_streams(streams)
        , m_admission(admission)
    {
    }
    virtual ~ApiFamily() = default;
    virtual void addRoutes(Router &router) = 0;

protected:
    Config m_config;
    RunManager *m_runs;
    RunStore *m_store;
    StreamRegistry *m_streams;
    Admission *m_admission;
};

// A responder kept across a round trip (Redis, a run's first write): shared by the callbacks
// that may answer, while the socket may go meanwhile (then nobody answers).
//
//   Held held(std::move(responder));
//   store->lookup(id, tenant, [held](...) { if (held.gone()) return; Reply::json(*held, ...); });
struct Held
{
    std::shared_ptr<QHttpServerResponder> responder;
    QPointer<QTcpSocket> socket;
    explicit Held(QHttpServerResponder &&r)
        : responder(std::make_shared<QHttpServerResponder>(std::move(r)))
        , socket(responder->socket())
    {
    }
    bool gone() const { return !socket; }
    QHttpServerResponder &operator*() const { return *responder; }
};
