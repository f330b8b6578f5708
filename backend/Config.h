#pragma once

#include "agents/ProviderConfig.h"

#include <QHostAddress>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <optional>

// Everything the backend can be told. Environment variables give defaults, flags win.
struct Config
{
    QString redisConnectionString;   // empty = localhost:6379 if it answers, else embedded
    bool redisExplicit = false;      // set by REDIS_CONNECTION_STRING or --redis
    int redisTimeoutMs = 0;          // --redis-timeout-ms / REDIS_TIMEOUT_MS (0 = the string's syncTimeout, else 5000)
    QString redisCaFile;             // --redis-ca / REDIS_TLS_CA: a CA added to the system ones
    QString redisCertFile;           // --redis-cert / REDIS_TLS_CERT: client certificate (mutual TLS)
    QString redisKeyFile;            // --redis-key / REDIS_TLS_KEY
    bool redisTlsInsecure = false;   // --redis-tls-insecure: no certificate verification (logged)
    bool redisAzureCli = false;      // REDIS_AZURE_AUTH=cli: Entra ID tokens from the Azure CLI instead of a password
    int redisWaitReplicas = -1;      // --redis-wait-replicas / REDIS_WAIT_REPLICAS (-1 = 1 with Sentinel, else 0)
    qint64 ttlMs = 10 * 60 * 1000;   // REDIS_STREAM_TTL_MINUTES / --ttl-minutes / --ttl-seconds
    QHostAddress listenAddress = QHostAddress::LocalHost;
    quint16 port = 7071;
    bool headless = false;
    bool bench = false;              // enables the synthetic benchmark provider
    int demoPaceMs = 40;
    qint64 maxPromptBytes = 64 * 1024;
    // The request body limit: a prompt of maxPromptBytes written as JSON \uXXXX escapes (6 bytes
    // a character), plus room for the other fields. The decoded prompt is held to maxPromptBytes.
    qint64 maxBodyBytes() const { return 6 * maxPromptBytes + 64 * 1024; }
    QStringList allowedOrigins{QStringLiteral("*")};
    int keepAliveMs = 15000;
    int longPollTimeoutMs = 20000;   // Durable Streams long-poll: 204 after this (--long-poll-timeout-ms)
    int retryMs = 3000;
    qint64 leaseMs = 15000;          // a run whose owner stops renewing for this long is interrupted
    int readerConnections = 2;       // blocking XREAD connections shared by all readers
    qint64 writeBufferBytes = 64 * 1024 * 1024;
    qint64 clientBufferBytes = 16 * 1024 * 1024; // unsent bytes a stream may hold for a slow client before it is dropped
    QString dataDir;                 // embedded Redis data; default: user data dir
    // Production limits (see README "Running in production").
    QStringList apiKeys;             // AGENT_STREAMS_API_KEYS / --api-keys: "k1,k2" or "@file"; empty = no auth
    int maxStreamsPerKey = 1000;     // open streaming responses per key (per address without auth)
    int maxStreams = 20000;          // open streaming responses in total
    double createsPerMinute = 120;   // token bucket refill per key (per address without auth); 0 = off
    double createBurst = 30;         // token bucket size
    int requestTimeoutMs = 10000;    // a request's headers must arrive within this (slow-loris)
    qint64 maxHeaderBytes = 16 * 1024;
    int readerGraceMs = 30000;       // readers wait this long for Redis before an `unavailable` error
    QString tlsCertificate;          // PEM files; both set = HTTPS (--tls-cert/--tls-key)
    QString tlsKey;
    ProviderConfig provider;         // AZURE_OPENAI_* / OPENAI_* (unset: offline demo agent)

    // Parses argv (argv[0] included) over the environment. On --help/--version returns a
    // Config with *exitText set; on errors returns nullopt and a message.
    static std::optional<Config> parse(const QStringList &arguments, const QProcessEnvironment &env, QString *error,
                                       QString *exitText = nullptr);
};
