#include "Backend.h"

#include "HopTrace.h"

#include "agents/AgentFactory.h"
#include "http/ApiServer.h"
#include "http/GuardedTcpServer.h"
#include "http/stream/StreamResponse.h"
#include "redis/EmbeddedRedis.h"
#include "redis/RedisConnection.h"
#include "redis/RedisRouter.h"
#include "redis/SentinelWatcher.h"
#include "runs/RunManager.h"
#include "runs/RunRecovery.h"
#include "streams/StreamHub.h"
#include "streams/StreamWriter.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QLoggingCategory>
#include <QSslKey>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

Q_LOGGING_CATEGORY(lcBackend, "agentstreams.backend")

Backend::Backend(const Config &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
{
    m_factory = makeAgentFactory(config.provider, config.demoPaceMs, config.bench);
    HopTrace::init();
}

Backend::~Backend()
{
    stop();
    HopTrace::dump();
}

void Backend::start()
{
    if (m_config.redisExplicit) {
        QString error;
        const auto redis = RedisConfig::parse(m_config.redisConnectionString, &error);
        if (!redis) {
            Q_EMIT failed(QStringLiteral("REDIS_CONNECTION_STRING / --redis: %1").arg(error));
            return;
        }
        startWith(*redis);
        return;
    }
    probeLocalRedis();
}

// The embedded default: use a Redis already answering on localhost:6379, else start our own.
void Backend::probeLocalRedis()
{
    auto *socket = new QTcpSocket(this);
    auto *timer = new QTimer(socket);
    timer->setSingleShot(true);
    auto decide = [this, socket](bool found) {
        if (socket->property("decided").toBool())
            return;
        socket->setProperty("decided", true);
        socket->abort();
        socket->deleteLater();
        if (found) {
            qCInfo(lcBackend) << "using the Redis server answering on localhost:6379";
            startWith(RedisConfig{});
        } else {
            qCInfo(lcBackend) << "nothing answers on localhost:6379 and REDIS_CONNECTION_STRING is unset: starting an embedded redis-server";
            startEmbedded();
        }
    };
    connect(socket, &QTcpSocket::connected, socket, [socket] { socket->write("PING\r\n"); });
    connect(socket, &QTcpSocket::readyRead, socket, [socket, decide] {
        const QByteArray answer = socket->readAll();
        decide(answer.startsWith('+') || answer.startsWith('-')); // +PONG or -NOAUTH: a Redis
    });
    connect(socket, &QTcpSocket::errorOccurred, socket, [decide] { decide(false); });
    connect(timer, &QTimer::timeout, socket, [decide] { decide(false); });
    timer->start(700);
    socket->connectToHost(QStringLiteral("127.0.0.1"), 6379);
}

void Backend::startEmbedded()
{
    m_embedded = new EmbeddedRedis(m_config.dataDir, this);
    connect(m_embedded, &EmbeddedRedis::ready, this, [this](const RedisConfig &cfg) { startWith(cfg); });
    connect(m_embedded, &EmbeddedRedis::failed, this, [this](const QString &why) {
        Q_EMIT failed(QStringLiteral("embedded Redis: %1").arg(why));
    });
    m_embedded->start();
}

void Backend::startWith(const RedisConfig &parsed)
{
    // Flags and their variables win over what the connection string says.
    RedisConfig redis = parsed;
    if (m_config.redisTimeoutMs > 0)
        redis.commandTimeoutMs = m_config.redisTimeoutMs;
    if (!m_config.redisCaFile.isEmpty())
        redis.tlsCaFile = m_config.redisCaFile;
    if (!m_config.redisCertFile.isEmpty())
        redis.tlsCertFile = m_config.redisCertFile;
    if (!m_config.redisKeyFile.isEmpty())
        redis.tlsKeyFile = m_config.redisKeyFile;
    redis.tlsInsecure |= m_config.redisTlsInsecure;
    redis.azureCli |= m_config.redisAzureCli;
    if (redis.tls && redis.tlsInsecure)
        qCWarning(lcBackend).noquote() << "Redis TLS certificate verification is OFF (--redis-tls-insecure): anyone on the path can read and change the data";
    for (const QString &option : std::as_const(redis.ignored))
        qCWarning(lcBackend).noquote() << "Redis connection string: option" << option << "has no effect in this app; ignored";
    m_redis = redis;
    qCInfo(lcBackend).noquote() << "Redis:" << redis.describe();
    qCInfo(lcBackend).noquote() << "Agent:" << describeAgentFactory(m_config.provider, m_config.bench);
    // One server, Sentinel or Redis Cluster: the routers find out (INFO cluster) and keep one
    // connection per primary each; the hub keeps its own readers (see StreamHub).
    auto *writerRouter = new RedisRouter(redis, QStringLiteral("writer"), this);
    auto *query = new RedisRouter(redis, QStringLiteral("query"), this);
    m_routers = {writerRouter, query};
    for (RedisRouter *r : std::as_const(m_routers)) {
        connect(r, &RedisRouter::connected, this, &Backend::onConnectionChanged);
        connect(r, &RedisRouter::disconnected, this, &Backend::onConnectionChanged);
    }
    // cluster=true on a server that is not a cluster node: said once, clearly (the routers
    // keep asking meanwhile, so a server restarted with cluster mode on is taken).
    connect(query, &RedisRouter::failed, this, [this](const QString &why) { Q_EMIT failed(why); }, Qt::SingleShotConnection);

    m_writer = new StreamWriter(writerRouter, this);
    m_writer->setTtlMs(m_config.ttlMs);
    m_writer->setMaxBufferedBytes(m_config.writeBufferBytes);
    const int waitReplicas = m_config.redisWaitReplicas >= 0 ? m_config.redisWaitReplicas : redis.isSentinel() ? 1 : 0;
    m_writer->setWaitReplicas(waitReplicas, qMin(500, redis.commandTimeoutMs / 2));
    m_hub = new StreamHub(query, redis, qMax(1, m_config.readerConnections), this);
    connect(m_hub, &StreamHub::availabilityChanged, this, &Backend::onConnectionChanged);
    if (redis.isSentinel()) {
        // Every data connection moves to the new primary as soon as the sentinels say so.
        auto *watcher = new SentinelWatcher(redis, this);
        connect(watcher, &SentinelWatcher::switched, this, [this](const QString &host, int port) {
            const QList<RedisConnection *> all = connections();
            for (RedisConnection *c : all)
                c->reconnect(QStringLiteral("the sentinels moved the primary to %1:%2").arg(host).arg(port));
        });
    }
    // Streams written here are read when their write is acknowledged; only streams written by
    // other instances need the shared blocking reads.
    StreamWriter *writer = m_writer;
    m_hub->setLocalWriter([writer](const QByteArray &id) { return writer->isTracking(id); });
    connect(m_writer, &StreamWriter::appended, m_hub, &StreamHub::deliverLocal);
    connect(m_writer, &StreamWriter::stopped, m_hub, &StreamHub::localWriterStopped);
    connect(m_writer, &StreamWriter::failed, m_hub, [this](const QByteArray &id) { m_hub->poke(id); });
    m_runs = new RunManager(m_writer, query, m_factory, m_config.leaseMs, this);
    auto *recovery = new RunRecovery(query, m_config.leaseMs, m_config.ttlMs, this);
    RunManager *runs = m_runs;
    recovery->setLocalRuns([runs](const QByteArray &id) { return runs->isRunning(id); });
    connect(writerRouter, &RedisRouter::connected, m_runs, &RunManager::renewLeases);
    connect(recovery, &RunRecovery::recovered, m_hub, &StreamHub::poke);
    m_api = new ApiServer(m_config, m_runs, m_hub, query, writerRouter, this);

    GuardedTcpServer::Limits limits;
    limits.requestTimeoutMs = m_config.requestTimeoutMs;
    limits.maxHeaderBytes = m_config.maxHeaderBytes;
    limits.maxBodyBytes = m_config.maxBodyBytes();
    // The guard refuses keyless requests before their body, with ApiServer's 401 and CORS.
    limits.access = std::make_shared<const AccessControl>(m_config.apiKeys);
    limits.allowedOrigins = m_config.allowedOrigins;
    QTcpServer *tcp = nullptr;
    if (!m_config.tlsCertificate.isEmpty()) {
        QString error;
        const auto ssl = loadTls(m_config.tlsCertificate, m_config.tlsKey, &error);
        if (!ssl) {
            Q_EMIT failed(error);
            return;
        }
        auto *server = new GuardedSslServer(limits, m_api);
        server->setSslConfiguration(*ssl);
        tcp = server;
    } else {
        tcp = new GuardedTcpServer(limits, m_api);
    }
    if (!tcp->listen(m_config.listenAddress, m_config.port)) {
        Q_EMIT failed(QStringLiteral("cannot listen on %1:%2 (%3); choose another with --port")
                          .arg(m_config.listenAddress.toString())
                          .arg(m_config.port)
                          .arg(tcp->errorString()));
        return;
    }
    m_api->bind(tcp);
    m_api->setGauges([this] {
        Metrics::Gauges g;
        g.activeRuns = m_runs ? m_runs->activeRuns() : 0;
        g.openStreams = StreamResponse::openCount();
        g.unsentBytes = StreamResponse::unsentTotal();
        g.liveStreamKeys = m_hub->liveStreamCount();
        g.chunksWritten = m_writer->entriesWritten();
        g.writeBufferBytes = m_writer->bufferedBytes();
        const QList<RedisConnection *> all = connections();
        for (RedisConnection *c : all) {
            ++g.redisConnections;
            g.redisConnected += c->isConnected() ? 1 : 0;
            g.redisReconnects += c->reconnects();
        }
        return g;
    });
    if (!m_config.listenAddress.isLoopback() && m_config.apiKeys.isEmpty())
        qCWarning(lcBackend).noquote() << "listening on" << m_config.listenAddress.toString()
                                       << "WITHOUT API keys: anyone who can reach this port can start runs and read streams;"
                                          " set AGENT_STREAMS_API_KEYS";
    m_port = tcp->serverPort();
    for (RedisRouter *r : std::as_const(m_routers))
        r->open(); // the hub opens its readers once the query router knows the deployment
    qCInfo(lcBackend).noquote() << QStringLiteral("listening on %1://%2:%3")
                                       .arg(m_config.tlsCertificate.isEmpty() ? QStringLiteral("http") : QStringLiteral("https"))
                                       .arg(m_config.listenAddress.toString())
                                       .arg(m_port);
    Q_EMIT listening(m_port);
}

std::optional<QSslConfiguration> Backend::loadTls(const QString &certPath, const QString &keyPath, QString *error)
{
    const QList<QSslCertificate> chain = QSslCertificate::fromPath(certPath, QSsl::Pem);
    if (chain.isEmpty()) {
        *error = QStringLiteral("--tls-cert %1: no PEM certificate could be read").arg(certPath);
        return std::nullopt;
    }
    QFile keyFile(keyPath);
    if (!keyFile.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("--tls-key %1: %2").arg(keyPath, keyFile.errorString());
        return std::nullopt;
    }
    const QByteArray pem = keyFile.readAll();
    QSslKey key(pem, QSsl::Rsa, QSsl::Pem);
    if (key.isNull())
        key = QSslKey(pem, QSsl::Ec, QSsl::Pem);
    if (key.isNull()) {
        *error = QStringLiteral("--tls-key %1: not an unencrypted PEM RSA or EC private key").arg(keyPath);
        return std::nullopt;
    }
    QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
    ssl.setLocalCertificateChain(chain);
    ssl.setPrivateKey(key);
    ssl.setPeerVerifyMode(QSslSocket::VerifyNone); // clients are not asked for certificates
    return ssl;
}

QList<RedisConnection *> Backend::connections() const
{
    QList<RedisConnection *> all;
    for (RedisRouter *r : m_routers)
        all += r->connections();
    if (m_hub)
        all += m_hub->connections();
    return all;
}

void Backend::onConnectionChanged()
{
    bool all = !m_routers.isEmpty() && m_hub && m_hub->isAvailable();
    for (RedisRouter *r : std::as_const(m_routers))
        all = all && r->isConnected();
    if (all != m_available) {
        m_available = all;
        Q_EMIT redisAvailabilityChanged(all);
    }
    if (all && !m_ready) {
        m_ready = true;
        qCInfo(lcBackend).noquote() << "ready: every Redis connection is up";
        Q_EMIT ready();
    }
}

void Backend::stop()
{
    // Runs end with an error entry where Redis still takes it (given a moment to write it, the
    // one place where we wait: the process is exiting); the embedded server goes last.
    if (m_runs && m_runs->activeRuns() > 0) {
        m_runs->shutdown();
        QElapsedTimer waited;
        waited.start();
        while (m_writer->hasPending() && waited.elapsed() < 2000)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    }
    if (m_runs) {
        delete m_runs;
        m_runs = nullptr;
    }
    delete m_api;
    m_api = nullptr;
    if (m_embedded)
        m_embedded->stop();
}
