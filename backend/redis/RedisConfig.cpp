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
    return cfg;
}

} // namespace

QString RedisConfig::describe() const
{
    QString where = isUnix() ? QStringLiteral("unix://%1").arg(unixPath)
                             : QStringLiteral("%1:%2").arg(host).arg(port);
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
        if (scheme == QLatin1String("rediss")) {
            *error = QStringLiteral("rediss:// (TLS) is not supported by this build; put a TLS proxy such as stunnel in front, or use redis://");
            return std::nullopt;
        }
        if (scheme != QLatin1String("redis") && scheme != QLatin1String("unix")) {
            *error = QStringLiteral("unknown scheme \"%1\" (use redis://, unix:// or host:port)").arg(scheme);
            return std::nullopt;
        }
        return parseUrl(text, error);
    }

    // StackExchange.Redis style: endpoint first, then comma-separated key=value options.
    const QStringList parts = text.split(QLatin1Char(','));
    RedisConfig cfg;
    if (!parseHostPort(parts.first().trimmed(), &cfg, error))
        return std::nullopt; // (the endpoint part holds no password)
    for (int i = 1; i < parts.size(); ++i) {
        const QString part = parts.at(i).trimmed();
        if (part.isEmpty())
            continue;
        const int eq = part.indexOf(QLatin1Char('='));
        if (eq <= 0) {
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
            if (value.compare(QLatin1String("false"), Qt::CaseInsensitive) != 0) {
                *error = QStringLiteral("ssl=true is not supported by this build; put a TLS proxy in front of Redis");
                return std::nullopt;
            }
        } else if (key == QLatin1String("abortconnect") || key == QLatin1String("connecttimeout")
                   || key == QLatin1String("synctimeout") || key == QLatin1String("name")
                   || key == QLatin1String("allowadmin")) {
            // Accepted for compatibility with StackExchange.Redis strings; not used.
        } else {
            *error = QStringLiteral("unknown option \"%1\" (known: password, user, defaultDatabase)").arg(key);
            return std::nullopt;
        }
    }
    return cfg;
}
