#include "Config.h"

#include "redis/RedisConfig.h"

#include "http/AccessControl.h"

#include <QCommandLineParser>
#include <functional>
#include <QCoreApplication>
#include <QStandardPaths>

namespace {
bool toInt(const QString &text, qint64 min, qint64 max, qint64 *out)
{
    bool ok = false;
    const qint64 v = text.toLongLong(&ok);
    if (!ok || v < min || v > max)
        return false;
    *out = v;
    return true;
}
} // namespace

std::optional<Config> Config::parse(const QStringList &arguments, const QProcessEnvironment &env, QString *error,
                                    QString *exitText)
{
    Config c;
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Agent Streams: runs AI agents in the background and streams their answers through Redis Streams,\n"
        "so any client can disconnect and resume without losing a chunk.\n\n"
        "Environment: REDIS_CONNECTION_STRING, REDIS_STREAM_TTL_MINUTES, AZURE_OPENAI_*, OPENAI_*,\n"
        "AGENT_STREAMS_ALLOWED_ORIGINS (flags win)."));
    p.addHelpOption();
    p.addVersionOption();
    const QCommandLineOption headless(QStringLiteral("headless"), QStringLiteral("Run the HTTP server only, no window."));
    const QCommandLineOption port(QStringLiteral("port"), QStringLiteral("HTTP port (default 7071; 0 = any free port)."), QStringLiteral("port"));
    const QCommandLineOption listen(QStringLiteral("listen"), QStringLiteral("Address to listen on (default 127.0.0.1)."), QStringLiteral("address"));
    const QCommandLineOption redis(QStringLiteral("redis"),
                                   QStringLiteral("Redis connection string: host:port[,password=..][,defaultDatabase=N], "
                                                  "redis://[user:pass@]host:port/db or unix:///path."),
                                   QStringLiteral("connection"));
    const QCommandLineOption ttlMinutes(QStringLiteral("ttl-minutes"), QStringLiteral("Keep a conversation this long after its last activity (default 10)."), QStringLiteral("minutes"));
    const QCommandLineOption ttlSeconds(QStringLiteral("ttl-seconds"), QStringLiteral("Like --ttl-minutes, in seconds (for tests)."), QStringLiteral("seconds"));
    const QCommandLineOption pace(QStringLiteral("demo-pace-ms"), QStringLiteral("Delay between chunks of the offline demo agent (default 40)."), QStringLiteral("ms"));
    const QCommandLineOption maxPrompt(QStringLiteral("max-prompt-bytes"), QStringLiteral("Largest accepted prompt (default 65536)."), QStringLiteral("bytes"));
    const QCommandLineOption origins(QStringLiteral("allowed-origins"), QStringLiteral("Comma-separated origins allowed by CORS, or * (default *)."), QStringLiteral("origins"));
    const QCommandLineOption longPoll(QStringLiteral("long-poll-timeout-ms"), QStringLiteral("Durable Streams live=long-poll: answer 204 after this much silence (default 20000)."), QStringLiteral("ms"));
    const QCommandLineOption keepAlive(QStringLiteral("keep-alive-ms"), QStringLiteral("SSE keep-alive comment after this much silence (default 15000)."), QStringLiteral("ms"));
    const QCommandLineOption lease(QStringLiteral("lease-ms"), QStringLiteral("A run whose process stops for this long is marked interrupted (default 15000)."), QStringLiteral("ms"));
    const QCommandLineOption apiKeys(QStringLiteral("api-keys"), QStringLiteral("API keys: \"key1,key2\" or \"@/path/to/file\" (default: none, no auth)."), QStringLiteral("keys"));
    const QCommandLineOption rate(QStringLiteral("creates-per-minute"), QStringLiteral("Runs each key (or address) may start per minute, with bursts of --create-burst (default 120; 0 = no limit)."), QStringLiteral("n"));
    const QCommandLineOption burst(QStringLiteral("create-burst"), QStringLiteral("Burst size of the create rate limit (default 30)."), QStringLiteral("n"));
    const QCommandLineOption perKey(QStringLiteral("max-streams-per-key"), QStringLiteral("Open streams per key or address (default 1000)."), QStringLiteral("n"));
    const QCommandLineOption total(QStringLiteral("max-streams"), QStringLiteral("Open streams in total (default 20000)."), QStringLiteral("n"));
    const QCommandLineOption grace(QStringLiteral("reader-grace-ms"), QStringLiteral("How long readers wait for Redis to come back before an `unavailable` error (default 30000)."), QStringLiteral("ms"));
    const QCommandLineOption tlsCert(QStringLiteral("tls-cert"), QStringLiteral("Serve HTTPS with this PEM certificate (chain)."), QStringLiteral("file"));
    const QCommandLineOption tlsKey(QStringLiteral("tls-key"), QStringLiteral("The PEM private key for --tls-cert."), QStringLiteral("file"));
    const QCommandLineOption writeBuffer(QStringLiteral("write-buffer-bytes"), QStringLiteral("Chunks kept in memory while Redis is unreachable before runs fail (default 67108864)."), QStringLiteral("bytes"));
    const QCommandLineOption bench(QStringLiteral("bench"), QStringLiteral("Enable the synthetic benchmark provider."));
    const QCommandLineOption dataDir(QStringLiteral("data-dir"), QStringLiteral("Where the embedded redis-server keeps its data."), QStringLiteral("dir"));
    const QCommandLineOption redisTimeout(QStringLiteral("redis-timeout-ms"), QStringLiteral("A Redis reply that does not come this long fails and the connection is re-established (default 5000)."), QStringLiteral("ms"));
    const QCommandLineOption redisCa(QStringLiteral("redis-ca"), QStringLiteral("PEM CA certificate(s) to trust for a TLS Redis, besides the system's."), QStringLiteral("file"));
    const QCommandLineOption redisCert(QStringLiteral("redis-cert"), QStringLiteral("PEM client certificate for a TLS Redis that wants one (mutual TLS)."), QStringLiteral("file"));
    const QCommandLineOption redisKey(QStringLiteral("redis-key"), QStringLiteral("The PEM private key for --redis-cert."), QStringLiteral("file"));
    const QCommandLineOption redisInsecure(QStringLiteral("redis-tls-insecure"), QStringLiteral("Do not verify the TLS Redis's certificate (testing only; logged)."));
    const QCommandLineOption redisWait(QStringLiteral("redis-wait-replicas"), QStringLiteral("A chunk counts as stored once this many replicas have it (WAIT); default 1 with Sentinel, else 0."), QStringLiteral("n"));
    const QCommandLineOption clientBuffer(QStringLiteral("client-buffer-bytes"), QStringLiteral("Unsent bytes a stream holds for a client that reads too slowly before it is dropped; it can resume from its last id (default 16777216)."), QStringLiteral("bytes"));
    p.addOptions({headless, port, listen, redis, ttlMinutes, ttlSeconds, pace, maxPrompt, origins, keepAlive, longPoll, lease, apiKeys, rate, burst, perKey, total, grace, writeBuffer, clientBuffer, tlsCert, tlsKey, bench, dataDir, redisTimeout, redisCa, redisCert, redisKey, redisInsecure, redisWait});

    if (!p.parse(arguments)) {
        *error = p.errorText();
        return std::nullopt;
    }
    if (p.isSet(QStringLiteral("help"))) {
        if (exitText)
            *exitText = p.helpText();
        return c;
    }
    if (p.isSet(QStringLiteral("version"))) {
        if (exitText)
            *exitText = QCoreApplication::applicationName() + QLatin1Char(' ') + QCoreApplication::applicationVersion() + QLatin1Char('\n');
        return c;
    }
    if (!p.positionalArguments().isEmpty()) {
        *error = QStringLiteral("unexpected argument \"%1\" (see --help)").arg(p.positionalArguments().first());
        return std::nullopt;
    }

    auto value = [&](const QCommandLineOption &opt, const char *envName) -> QString {
        if (p.isSet(opt))
            return p.value(opt);
        return envName ? env.value(QString::fromLatin1(envName)) : QString();
    };
    qint64 n = 0;
    c.redisConnectionString = value(redis, "REDIS_CONNECTION_STRING").trimmed();
    c.redisExplicit = !c.redisConnectionString.isEmpty();
    if (c.redisExplicit) {
        // A connection string the app cannot use is a configuration error like a bad flag:
        // refused here, so the process exits with the message instead of serving nothing.
        QString why;
        if (!RedisConfig::parse(c.redisConnectionString, &why)) {
            *error = QStringLiteral("REDIS_CONNECTION_STRING / --redis: %1").arg(why);
            return std::nullopt;
        }
    }
    if (const QString v = value(redisTimeout, "REDIS_TIMEOUT_MS"); !v.isEmpty()) {
        if (!toInt(v, 10, 3600000, &n)) {
            *error = QStringLiteral("invalid --redis-timeout-ms \"%1\" (10 to 3600000)").arg(v);
            return std::nullopt;
        }
        c.redisTimeoutMs = int(n);
    }
    if (const QString v = value(redisWait, "REDIS_WAIT_REPLICAS"); !v.isEmpty()) {
        if (!toInt(v, 0, 16, &n)) {
            *error = QStringLiteral("invalid --redis-wait-replicas \"%1\" (0 to 16)").arg(v);
            return std::nullopt;
        }
        c.redisWaitReplicas = int(n);
    }
    if (const QString v = env.value(QStringLiteral("REDIS_AZURE_AUTH")); !v.isEmpty()) {
        if (v.compare(QLatin1String("cli"), Qt::CaseInsensitive) != 0) {
            *error = QStringLiteral("REDIS_AZURE_AUTH=%1: only \"cli\" (tokens from the Azure CLI) is supported").arg(v);
            return std::nullopt;
        }
        c.redisAzureCli = true;
    }
    c.redisCaFile = value(redisCa, "REDIS_TLS_CA");
    c.redisCertFile = value(redisCert, "REDIS_TLS_CERT");
    c.redisKeyFile = value(redisKey, "REDIS_TLS_KEY");
    c.redisTlsInsecure = p.isSet(redisInsecure) || env.value(QStringLiteral("REDIS_TLS_INSECURE")) == QLatin1String("1");
    if (const QString v = value(ttlMinutes, "REDIS_STREAM_TTL_MINUTES"); !v.isEmpty()) {
        if (!toInt(v, 1, 60 * 24 * 365, &n)) {
            *error = QStringLiteral("invalid TTL \"%1\" minutes (expected a whole number, 1 or more)").arg(v);
            return std::nullopt;
        }
        c.ttlMs = n * 60 * 1000;
    }
    if (p.isSet(ttlSeconds)) {
        if (!toInt(p.value(ttlSeconds), 1, 60LL * 60 * 24 * 365, &n)) {
            *error = QStringLiteral("invalid --ttl-seconds \"%1\"").arg(p.value(ttlSeconds));
            return std::nullopt;
        }
        c.ttlMs = n * 1000;
    }
    if (p.isSet(port)) {
        if (!toInt(p.value(port), 0, 65535, &n)) {
            *error = QStringLiteral("invalid --port \"%1\" (expected 0-65535)").arg(p.value(port));
            return std::nullopt;
        }
        c.port = quint16(n);
    }
    if (p.isSet(listen)) {
        const QString text = p.value(listen);
        c.listenAddress = text == QLatin1String("localhost") ? QHostAddress(QHostAddress::LocalHost) : QHostAddress(text);
        if (c.listenAddress.isNull()) {
            *error = QStringLiteral("invalid --listen address \"%1\" (e.g. 127.0.0.1 or 0.0.0.0)").arg(text);
            return std::nullopt;
        }
    }
    if (p.isSet(pace)) {
        if (!toInt(p.value(pace), 0, 60000, &n)) {
            *error = QStringLiteral("invalid --demo-pace-ms \"%1\"").arg(p.value(pace));
            return std::nullopt;
        }
        c.demoPaceMs = int(n);
    }
    if (p.isSet(maxPrompt)) {
        if (!toInt(p.value(maxPrompt), 1, 64LL << 20, &n)) {
            *error = QStringLiteral("invalid --max-prompt-bytes \"%1\"").arg(p.value(maxPrompt));
            return std::nullopt;
        }
        c.maxPromptBytes = n;
    }
    if (p.isSet(keepAlive)) {
        if (!toInt(p.value(keepAlive), 100, 3600000, &n)) {
            *error = QStringLiteral("invalid --keep-alive-ms \"%1\"").arg(p.value(keepAlive));
            return std::nullopt;
        }
        c.keepAliveMs = int(n);
    }
    if (p.isSet(longPoll)) {
        if (!toInt(p.value(longPoll), 10, 3600000, &n)) {
            *error = QStringLiteral("invalid --long-poll-timeout-ms \"%1\" (10 to 3600000)").arg(p.value(longPoll));
            return std::nullopt;
        }
        c.longPollTimeoutMs = int(n);
    }
    if (p.isSet(lease)) {
        if (!toInt(p.value(lease), 500, 3600000, &n)) {
            *error = QStringLiteral("invalid --lease-ms \"%1\" (500 to 3600000)").arg(p.value(lease));
            return std::nullopt;
        }
        c.leaseMs = n;
    }
    if (const QString v = value(apiKeys, "AGENT_STREAMS_API_KEYS"); !v.isEmpty()) {
        QString keyError;
        const auto keys = AccessControl::loadKeys(v, &keyError);
        if (!keys) {
            *error = keyError;
            return std::nullopt;
        }
        c.apiKeys = *keys;
    }
    struct IntFlag
    {
        const QCommandLineOption *option;
        qint64 min, max;
        std::function<void(qint64)> set;
    };
    const QList<IntFlag> ints{
        {&rate, 0, 1000000, [&c](qint64 v) { c.createsPerMinute = double(v); }},
        {&burst, 1, 1000000, [&c](qint64 v) { c.createBurst = double(v); }},
        {&perKey, 1, 10000000, [&c](qint64 v) { c.maxStreamsPerKey = int(v); }},
        {&total, 1, 10000000, [&c](qint64 v) { c.maxStreams = int(v); }},
        {&grace, 0, 3600000, [&c](qint64 v) { c.readerGraceMs = int(v); }},
        {&writeBuffer, 1024, qint64(16) << 30, [&c](qint64 v) { c.writeBufferBytes = v; }},
        {&clientBuffer, 65536, qint64(4) << 30, [&c](qint64 v) { c.clientBufferBytes = v; }},
    };
    for (const IntFlag &f : ints) {
        if (!p.isSet(*f.option))
            continue;
        if (!toInt(p.value(*f.option), f.min, f.max, &n)) {
            *error = QStringLiteral("invalid --%1 \"%2\" (%3 to %4)").arg(f.option->names().first(), p.value(*f.option)).arg(f.min).arg(f.max);
            return std::nullopt;
        }
        f.set(n);
    }
    if (const QString v = value(origins, "AGENT_STREAMS_ALLOWED_ORIGINS"); !v.isEmpty()) {
        c.allowedOrigins.clear();
        for (const QString &o : v.split(QLatin1Char(','), Qt::SkipEmptyParts))
            c.allowedOrigins << o.trimmed();
    }
    c.tlsCertificate = value(tlsCert, "AGENT_STREAMS_TLS_CERT");
    c.tlsKey = value(tlsKey, "AGENT_STREAMS_TLS_KEY");
    if (c.tlsCertificate.isEmpty() != c.tlsKey.isEmpty()) {
        *error = QStringLiteral("--tls-cert and --tls-key go together: give both PEM files, or neither");
        return std::nullopt;
    }
    c.provider = ProviderConfig::fromEnvironment(env);
    if (!c.provider.isValid()) {
        *error = c.provider.error;
        return std::nullopt;
    }
    c.headless = p.isSet(headless);
    c.bench = p.isSet(bench);
    c.dataDir = p.isSet(dataDir) ? p.value(dataDir)
                                 : QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/agent-streams/redis");
    return c;
}
