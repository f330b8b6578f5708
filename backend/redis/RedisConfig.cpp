#include "redis/RedisConfig.h"

#include <QUrl>
#include <QUrlQuery>

namespace {

bool parsePort(const QString &text, int *port, QString *error)
{
    bool ok = false;
    const int value = text.toInt(&ok);
    if (!ok || value < 1 || value > 65535) {
        *error = QStringLiteral("invalid port \"%1\" (expected 1-65535)").arg(text);
        return false;
    }
    *port = value;
    return true;
}

bool parseDatabase(const QString &text, int *db, QString *error)
{
    bool ok = false;
    const int value = text.toInt(&ok);
    if (!ok || value < 0) {
        *error = QStringLiteral("invalid database number \"%1\" (expected 0 or more)").arg(text);
        return false;
    }
    *db = value;
    return true;
}

// host, host:port, [v6], [v6]:port
bool parseHostPort(const QString &text, RedisConfig *cfg, QString *error)
{
    if (text.isEmpty()) {
        *error = QStringLiteral("missing host");
        return false;
    }
    QString host = text;
    QString port;
    if (text.startsWith(QLatin1Char('['))) {
        const int close = text.indexOf(QLatin1Char(']'));
        if (close < 0) {
            *error = QStringLiteral("unclosed '[' in IPv6 address \"%1\"").arg(text);
            return false;
        }
        host = text.mid(1, close - 1);
        const QString rest = text.mid(close + 1);
        if (!rest.isEmpty()) {
            if (!rest.startsWith(QLatin1Char(':'))) {
                *error = QStringLiteral("unexpected \"%1\" after IPv6 address").arg(rest);
                return false;
            }
            port = rest.mid(1);
        }
    } else if (text.count(QLatin1Char(':')) == 1) {
        const int colon = text.indexOf(QLatin1Char(':'));
        host = text.left(colon);
        port = text.mid(colon + 1);
    } else if (text.count(QLatin1Char(':')) > 1) {
        *error = QStringLiteral("IPv6 addresses must be written in brackets, e.g. [::1]:6379");
        return false;
    }
    if (host.isEmpty()) {
        *error = QStringLiteral("missing host in \"%1\"").arg(text);
        return false;
    }
    for (const QChar c : host) {
        if (c.isSpace() || c == QLatin1Char('/') || c == QLatin1Char('@')) {
            *error = QStringLiteral("invalid host \"%1\"").arg(host);
            return false;
        }
    }
    cfg->host = host;
    if (!port.isEmpty() || text.endsWith(QLatin1Char(':')))
        return parsePort(port, &cfg->port, error);
    return true;
}

// The connection string as it may be shown in an error: without its password.
QString redacted(const QString &text)
{
    const int schemeEnd = text.indexOf(QLatin1String("://"));
    const int at = text.lastIndexOf(QLatin1Char('@'));
    if (schemeEnd < 0 || at < schemeEnd)
        return text;
    const int colon = text.indexOf(QLatin1Char(':'), schemeEnd + 3);
    if (colon < 0 || colon > at)
        return text;
    return text.left(colon + 1) + QStringLiteral("***") + text.mid(at);
}

bool parseBool(const QString &key, const QString &value, bool *out, QString *error)
{
    if (value.compare(QLatin1String("true"), Qt::CaseInsensitive) == 0) {
        *out = true;
        return true;
    }
    if (value.compare(QLatin1String("false"), Qt::CaseInsensitive) == 0) {
        *out = false;
        return true;
    }
    *error = QStringLiteral("%1=%2: expected true or false").arg(key, value);
    return false;
}

bool parseCluster(const QString &value, RedisConfig::Cluster *out, QString *error)
{
    bool on = false;
    if (!parseBool(QStringLiteral("cluster"), value, &on, error))
        return false;
    *out = on ? RedisConfig::Cluster::On : RedisConfig::Cluster::Off;
    return true;
}

bool parseMs(const QString &key, const QString &value, int *out, QString *error)
{
    bool ok = false;
    const int ms = value.toInt(&ok);
    if (!ok || ms < 1) {
        *error = QStringLiteral("%1=%2: expected a number of milliseconds").arg(key, value);
        return false;
    }
    *out = ms;
    return true;
}

// sentinel://[password@]h1:26379,h2:26379/<master-name>[?db=N]. QUrl takes one host only.
std::optional<RedisConfig> parseSentinelUrl(const QString &text, QString *error)
{
    QString rest = text.mid(int(qstrlen("sentinel://")));
    RedisConfig cfg;
    const int at = rest.lastIndexOf(QLatin1Char('@'));
    if (at >= 0) {
        QString auth = rest.left(at);
        rest = rest.mid(at + 1);
        const int colon = auth.indexOf(QLatin1Char(':'));
        cfg.sentinelPassword = QUrl::fromPercentEncoding((colon >= 0 ? auth.mid(colon + 1) : auth).toUtf8());
    }
    QString query;
    if (const int q = rest.indexOf(QLatin1Char('?')); q >= 0) {
        query = rest.mid(q + 1);
        rest = rest.left(q);
    }
    const int slash = rest.indexOf(QLatin1Char('/'));
    if (slash < 0 || slash == rest.size() - 1) {
        *error = QStringLiteral("a sentinel URL names the master: sentinel://host:26379[,host2:26379]/<master-name>");
        return std::nullopt;
    }
    cfg.sentinelMaster = QUrl::fromPercentEncoding(rest.mid(slash + 1).toUtf8());
    for (const QString &hp : rest.left(slash).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        RedisConfig one;
        one.port = 26379;
        if (!parseHostPort(hp.trimmed(), &one, error))
            return std::nullopt;
        cfg.endpoints.append({one.host, one.port});
    }
    if (cfg.endpoints.isEmpty()) {
        *error = QStringLiteral("a sentinel URL needs at least one sentinel host:port");
        return std::nullopt;
    }
    cfg.host = cfg.endpoints.first().first;
    cfg.port = cfg.endpoints.first().second;
    const QUrlQuery items(query);
    if (items.hasQueryItem(QStringLiteral("db")) && !parseDatabase(items.queryItemValue(QStringLiteral("db")), &cfg.database, error))
        return std::nullopt;
    if (items.hasQueryItem(QStringLiteral("password")))
        cfg.password = items.queryItemValue(QStringLiteral("password"), QUrl::FullyDecoded);
    return cfg;
}

std::optional<RedisConfig> parseUrl(const QString &input, QString *error)
{
    const QUrl url(input, QUrl::StrictMode);
    const QString text = redacted(input);
    if (!url.isValid()) {
        // QUrl's own message quotes the whole input, password included: not shown.
        *error = QStringLiteral("\"%1\" is not a valid URL (expected redis://[user:password@]host[:port][/db] or unix:///path)").arg(text);
        return std::nullopt;
    }
    RedisConfig cfg;
    const QUrlQuery query(url);
    if (url.scheme() == QLatin1String("unix")) {
        if (url.path().isEmpty() || !url.path().startsWith(QLatin1Char('/'))) {
            *error = QStringLiteral("unix socket URL needs an absolute path: unix:///path/to/redis.sock");
            return std::nullopt;
        }
        cfg.unixPath = url.path();
    } else {
        if (url.host().isEmpty()) {
            *error = QStringLiteral("missing host in \"%1\"").arg(text);
            return std::nullopt;
        }
        cfg.host = url.host();
        cfg.tls = url.scheme() == QLatin1String("rediss");
        const int port = url.port(6379);
        if (port < 1 || port > 65535) {
            *error = QStringLiteral("invalid port in \"%1\"").arg(text);
            return std::nullopt;
        }
        cfg.port = port;
        QString path = url.path();
        if (path.startsWith(QLatin1Char('/')))
            path = path.mid(1);
        if (!path.isEmpty() && !parseDatabase(path, &cfg.database, error))
            return std::nullopt;
    }
    cfg.user = url.userName(QUrl::FullyDecoded);
    cfg.password = url.password(QUrl::FullyDecoded);
    if (query.hasQueryItem(QStringLiteral("db"))
        && !parseDatabase(query.queryItemValue(QStringLiteral("db")), &cfg.database, error))
        return std::nullopt;
    if (query.hasQueryItem(QStringLiteral("password")))
        cfg.password = query.queryItemValue(QStringLiteral("password"), QUrl::FullyDecoded);
    if (query.hasQueryItem(QStringLiteral("cluster"))
        && !parseCluster(query.queryItemValue(QStringLiteral("cluster")), &cfg.cluster, error))
        return std::nullopt;
    cfg.endpoints = {{cfg.host, cfg.port}};
    return cfg;
}

} // namespace

QString RedisConfig::describe() const
{
    QString where = isUnix() ? QStringLiteral("unix://%1").arg(unixPath)
                             : QStringLiteral("%1%2:%3").arg(tls ? QStringLiteral("rediss://") : QString(), host).arg(port);
    if (isSentinel())
        where = QStringLiteral("master \"%1\" via sentinel %2:%3").arg(sentinelMaster, host).arg(port);
    if (database != 0)
        where += QStringLiteral(" db %1").arg(database);
    if (!password.isEmpty())
        where += QStringLiteral(" (with password)");
    return where;
}

std::optional<RedisConfig> RedisConfig::parse(const QString &input, QString *error)
{
    QString scratch;
    if (!error)
        error = &scratch;
    const QString text = input.trimmed();
    if (text.isEmpty()) {
        *error = QStringLiteral("empty Redis connection string (example: localhost:6379)");
        return std::nullopt;
    }
    const int schemeEnd = text.indexOf(QLatin1String("://"));
    if (schemeEnd >= 0) {
        const QString scheme = text.left(schemeEnd).toLower();
        if (scheme == QLatin1String("sentinel"))
            return parseSentinelUrl(text, error);
        if (scheme != QLatin1String("redis") && scheme != QLatin1String("rediss") && scheme != QLatin1String("unix")) {
            *error = QStringLiteral("unknown scheme \"%1\" (use redis://, rediss://, sentinel://, unix:// or host:port)").arg(scheme);
            return std::nullopt;
        }
        return parseUrl(text, error);
    }

    // StackExchange.Redis style: endpoints first, then comma-separated key=value options.
    const QStringList parts = text.split(QLatin1Char(','));
    RedisConfig cfg;
    for (int i = 0; i < parts.size(); ++i) {
        const QString part = parts.at(i).trimmed();
        if (part.isEmpty())
            continue;
        const int eq = part.indexOf(QLatin1Char('='));
        if (eq < 0 && part.compare(QLatin1String("azure-cli"), Qt::CaseInsensitive) == 0) {
            cfg.azureCli = true;
            continue;
        }
        if (eq < 0) { // an endpoint (the endpoint parts hold no password)
            static const QStringList optionNames{QStringLiteral("password"), QStringLiteral("user"), QStringLiteral("ssl"),
                                                 QStringLiteral("defaultdatabase"), QStringLiteral("servicename"), QStringLiteral("sslhost")};
            if (optionNames.contains(part.toLower())) {
                *error = QStringLiteral("option \"%1\" is not key=value").arg(part);
                return std::nullopt;
            }
            RedisConfig one;
            one.port = -1;
            if (!parseHostPort(part, &one, error))
                return std::nullopt;
            cfg.endpoints.append({one.host, one.port});
            continue;
        }
        if (eq == 0) {
            *error = QStringLiteral("option \"%1\" is not key=value").arg(part);
            return std::nullopt;
        }
        const QString key = part.left(eq).trimmed().toLower();
        const QString value = part.mid(eq + 1).trimmed();
        if (key == QLatin1String("password")) {
            cfg.password = value;
        } else if (key == QLatin1String("user")) {
            cfg.user = value;
        } else if (key == QLatin1String("defaultdatabase")) {
            if (!parseDatabase(value, &cfg.database, error))
                return std::nullopt;
        } else if (key == QLatin1String("ssl")) {
            if (!parseBool(key, value, &cfg.tls, error))
                return std::nullopt;
        } else if (key == QLatin1String("sslhost")) {
            cfg.tlsServerName = value;
        } else if (key == QLatin1String("connecttimeout")) {
            if (!parseMs(key, value, &cfg.connectTimeoutMs, error))
                return std::nullopt;
        } else if (key == QLatin1String("synctimeout") || key == QLatin1String("asynctimeout")) {
            if (!parseMs(key, value, &cfg.commandTimeoutMs, error))
                return std::nullopt;
        } else if (key == QLatin1String("azureauth")) {
            if (value.compare(QLatin1String("cli"), Qt::CaseInsensitive) != 0) {
                *error = QStringLiteral("azureAuth=%1: only azureAuth=cli (tokens from the Azure CLI) is supported").arg(value);
                return std::nullopt;
            }
            cfg.azureCli = true;
        } else if (key == QLatin1String("servicename")) {
            cfg.sentinelMaster = value;
        } else if (key == QLatin1String("cluster")) {
            if (!parseCluster(value, &cfg.cluster, error))
                return std::nullopt;
        } else if (key == QLatin1String("abortconnect")) {
            // Honoured as false whatever it says: the app never gives up, it retries with backoff.
            bool abort = false;
            if (!parseBool(key, value, &abort, error))
                return std::nullopt;
        } else {
            // name, allowAdmin, keepAlive, connectRetry, resolveDns, tiebreaker, version,
            // configChannel, sslProtocols, checkCertificateRevocation, ...: nothing to do here.
            cfg.ignored << part.left(eq).trimmed();
        }
    }
    if (cfg.endpoints.isEmpty()) {
        *error = QStringLiteral("missing host (example: localhost:6379)");
        return std::nullopt;
    }
    const int defaultPort = cfg.isSentinel() ? 26379 : cfg.tls ? 6380 : 6379;
    for (auto &e : cfg.endpoints)
        if (e.second < 0)
            e.second = defaultPort;
    cfg.host = cfg.endpoints.first().first;
    cfg.port = cfg.endpoints.first().second;
    if (cfg.isSentinel()) {
        // StackExchange: the password is the data nodes'; the sentinels take the same one.
        cfg.sentinelPassword = cfg.password;
    }
    return cfg;
}
