#pragma once

#include "Config.h"
#include "Metrics.h"
#include "http/AccessControl.h"
#include "http/ContentNegotiation.h"
#include "http/HttpUtil.h"

#include "streams/EntryId.h"

#include <QAbstractHttpServer>
#include <QSet>
#include <QTimer>
#include <QJsonObject>

class RedisConnection;
class RunManager;
class StreamHub;

// The HTTP API (see README "HTTP API"). Routes by hand on top of QAbstractHttpServer so that
// every error has the status and message we choose, ids are validated before use, and a
// request arriving on a socket that is already streaming is never answered into that stream.
class ApiServer : public QAbstractHttpServer
{
    Q_OBJECT
public:
    ApiServer(const Config &config, RunManager *runs, StreamHub *hub, RedisConnection *query,
              RedisConnection *writer, QObject *parent = nullptr);
    ~ApiServer() override;

    void setGauges(std::function<Metrics::Gauges()> gauges) { m_gauges = std::move(gauges); }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    void readiness(QHttpServerResponder &&responder, const HeaderPairs &cors);
    void create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const HeaderPairs &cors);
    void addMessage(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id, const HeaderPairs &cors);
    bool readPrompt(const QHttpServerRequest &request, QHttpServerResponder &responder, const HeaderPairs &cors, QString *text,
                    QJsonObject *options);
    bool readTurnRequest(const QHttpServerRequest &request, QHttpServerResponder &responder, const HeaderPairs &cors, QString *text,
                         QJsonObject *options, ResponseFormat *format);
    static void sendUnavailable(QHttpServerResponder &responder, const QString &why, bool jsonErrors, const HeaderPairs &cors);
    static void sendNotFound(QHttpServerResponder &responder, const QByteArray &id, bool jsonErrors, const HeaderPairs &cors);
    bool checkRate(QHttpServerResponder &responder, bool jsonErrors, const HeaderPairs &cors);
    bool checkWritable(QHttpServerResponder &responder, bool jsonErrors, const HeaderPairs &cors);
    void sendAccepted(QHttpServerResponder &responder, const QByteArray &id, const HeaderPairs &cors);
    void stream(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id, const HeaderPairs &cors);
    void status(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id, const HeaderPairs &cors);
    void cancel(const QHttpServerRequest &request, QHttpServerResponder &&responder, const QByteArray &id, const HeaderPairs &cors);
    void openStream(QHttpServerResponder &&responder, ResponseFormat format, int status, const QByteArray &id,
                    const EntryId &after, const HeaderPairs &cors, const QByteArray &client, bool newStream = false);
    // CORS headers for this request's Origin; false when the origin is not allowed.
    bool corsHeaders(const QHttpServerRequest &request, HeaderPairs *out) const;

    Config m_config;
    RunManager *m_runs;
    StreamHub *m_hub;
    RedisConnection *m_query;
    RedisConnection *m_writer;
    AccessControl m_access;
    RateLimiter m_createLimiter;
    std::function<Metrics::Gauges()> m_gauges;
    QHash<QByteArray, int> m_openByClient;
    QHash<class StreamResponse *, QByteArray> m_streams; // open streams and their client (key or address)
    QTimer m_tick;
    // Context of the per-stream connections, so that they do not pile up on this object:
    // QAbstractHttpServer calls sender() on every new connection, which walks this object's
    // list of senders (one entry per open stream made each accept O(open streams)).
    QObject m_streamContext;
    std::shared_ptr<class SocketSender> m_sender;
    // The caller of the request being dispatched (set before any handler runs; handlers copy
    // them into their callbacks).
    QByteArray m_tenant;
    QByteArray m_client;
};
