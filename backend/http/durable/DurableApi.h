#pragma once

#include "durable/DurableStore.h"
#include "http/core/ApiFamily.h"
#include "http/durable/DurableReader.h"

class RedisRouter;
class StreamHub;

// The Durable Streams protocol at /v1/stream/<name> on Redis (README "Durable Streams"): PUT
// creates (and forks), POST appends and closes (idempotent producers checked in the same
// script), DELETE, and the reads (DurableReader). Agent conversations are readable at
// /v1/stream/agents/<conversationId> as JSON streams. Streams are per tenant: a key's streams
// are invisible to other keys.
//
//   DurableApi durable(config, runs, store, streams, admission, writer, hub);
//   durable.addRoutes(router);
class DurableApi : public ApiFamily
{
public:
    DurableApi(const Config &config, RunManager *runs, RunStore *store, StreamRegistry *streams, Admission *admission,
               RedisRouter *writer, StreamHub *hub);
    void addRoutes(Router &router) override;

private:
    void create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &name);
    void createWith(const Held &held, const RequestContext &context, const QByteArray &id, const QByteArray &location,
                    const DurableStore::Settings &settings, const QList<QPair<QByteArray, QByteArray>> &entries);
    void fork(const QHttpServerRequest &request, const Held &held, const RequestContext &context, const QByteArray &id,
              const QByteArray &location, DurableStore::Settings settings, const QList<QByteArray> &messages);
    void append(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id);
    void remove(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id);
    // The stream's id for the hub and the keys, from the route's name (percent-decoded).
    static QByteArray idOf(const RequestContext &context, const QByteArray &name);

    DurableStore m_durable;
    DurableReader m_reader;
};
