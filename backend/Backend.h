#pragma once

#include "Config.h"
#include "agents/Agent.h"
#include "redis/RedisConfig.h"

#include <QList>
#include <QObject>
#include <QPointer>
#include <QSslConfiguration>
#include <optional>

class ApiServer;
class EmbeddedRedis;
class RedisConnection;
class RedisRouter;
class RunManager;
class StreamHub;
class StreamWriter;

// The whole backend on one thread: Redis connections (1 writer, 1 query, N blocking readers),
// the stream writer and hub, the run manager and the HTTP API. Creates and wires; no logic.
//
//   auto *b = new Backend(config);
//   connect(b, &Backend::listening, ...);  // HTTP is up (port)
//   connect(b, &Backend::ready, ...);      // and Redis answered on every connection
//   connect(b, &Backend::failed, ...);     // cannot run (bad config, port taken, no redis-server)
//   b->start();
class Backend : public QObject
{
    Q_OBJECT
public:
    explicit Backend(const Config &config, QObject *parent = nullptr);
    ~Backend() override;

    // Replaces the agent for new runs (tests, providers). Call before start().
    void setAgentFactory(AgentFactory factory) { m_factory = std::move(factory); }
    quint16 port() const { return m_port; }
    const Config &config() const { return m_config; }
    RedisConfig redisConfig() const { return m_redis; }
    RunManager *runs() const { return m_runs; }
    StreamHub *hub() const { return m_hub; }
    StreamWriter *writer() const { return m_writer; }
    // Every Redis connection of this process (the hub's included).
    QList<RedisConnection *> connections() const;

public Q_SLOTS:
    void start();
    void stop();

Q_SIGNALS:
    void listening(quint16 port);
    void ready();
    void failed(const QString &message);
    void redisAvailabilityChanged(bool available);

private:
    void probeLocalRedis();
    void startEmbedded();
    void startWith(const RedisConfig &redis);
    void refuseCluster(const RedisConfig &redis, RedisConnection *query);
    void onConnectionChanged();
    static std::optional<QSslConfiguration> loadTls(const QString &certPath, const QString &keyPath, QString *error);

    Config m_config;
    RedisConfig m_redis;
    AgentFactory m_factory;
    EmbeddedRedis *m_embedded = nullptr;
    QList<RedisConnection *> m_connections;
    StreamWriter *m_writer = nullptr;
    StreamHub *m_hub = nullptr;
    RedisRouter *m_hubQuery = nullptr; // the hub's, until the backend shares one router per role
    RunManager *m_runs = nullptr;
    ApiServer *m_api = nullptr;
    quint16 m_port = 0;
    bool m_ready = false;
    bool m_available = false;
};
