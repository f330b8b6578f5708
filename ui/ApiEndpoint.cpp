#include "ApiEndpoint.h"

#include <QJsonDocument>
#include <QJsonObject>

ApiEndpoint::ApiEndpoint(const QUrl &baseUrl, const QString &apiKey)
    : m_base(baseUrl)
    , m_apiKey(apiKey.trimmed())
{
}

QUrl ApiEndpoint::url(const QString &path, const QByteArray &query) const
{
    QString prefix = m_base.path(QUrl::FullyEncoded);
    while (prefix.endsWith(QLatin1Char('/')))
        prefix.chop(1);
    QUrl u = m_base;
    u.setPath(prefix + path, QUrl::StrictMode);
    u.setQuery(query.isEmpty() ? QString() : QString::fromLatin1(query), QUrl::StrictMode);
    return u;
}

QNetworkRequest ApiEndpoint::request(const QUrl &url, const QByteArray &accept) const
{
    QNetworkRequest r(url);
    r.setRawHeader("Accept", accept);
    r.setRawHeader("Cache-Control", "no-cache");
    r.setAttribute(QNetworkRequest::CacheLoadControlAttribute, QNetworkRequest::AlwaysNetwork);
    r.setAttribute(QNetworkRequest::CacheSaveControlAttribute, false);
    r.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    r.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);
    // Streams last minutes; silence is watched by the client's own stall timer instead.
    r.setTransferTimeout(0);
    if (!m_apiKey.isEmpty())
        r.setRawHeader("Authorization", "Bearer " + m_apiKey.toUtf8());
    return r;
}

QNetworkRequest ApiEndpoint::create() const
{
    QNetworkRequest r = request(url(QStringLiteral("/api/agent/create")), "text/event-stream");
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("text/plain; charset=utf-8"));
    return r;
}

QUrl ApiEndpoint::agentUrl(const QByteArray &id, const QString &suffix) const
{
    return url(QStringLiteral("/api/agent/") + QString::fromLatin1(QUrl::toPercentEncoding(QString::fromUtf8(id))) + suffix);
}

QNetworkRequest ApiEndpoint::messages(const QByteArray &id) const
{
    // Streams only the new turn; the server sends the earlier ones to the model as history.
    QNetworkRequest r = request(agentUrl(id, QStringLiteral("/messages")), "text/event-stream");
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("text/plain; charset=utf-8"));
    return r;
}

QNetworkRequest ApiEndpoint::stream(const QByteArray &id, const QByteArray &cursor) const
{
    // '@' percent-encoded: the server decodes route arguments; proxies never see a userinfo-ish '@'.
    const QString path = QStringLiteral("/api/agent/stream/") + QString::fromLatin1(QUrl::toPercentEncoding(QString::fromUtf8(id)));
    QNetworkRequest r = request(url(path, cursor.isEmpty() ? QByteArray() : "cursor=" + QUrl::toPercentEncoding(QString::fromLatin1(cursor))),
                                "text/event-stream");
    if (!cursor.isEmpty())
        r.setRawHeader("Last-Event-ID", cursor);
    return r;
}

QNetworkRequest ApiEndpoint::status(const QByteArray &id) const
{
    return request(agentUrl(id), "application/json");
}

QNetworkRequest ApiEndpoint::cancel(const QByteArray &id) const
{
    QNetworkRequest r = request(agentUrl(id, QStringLiteral("/cancel")), "application/json");
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArray("application/json"));
    return r;
}

QString ApiEndpoint::errorMessage(const QByteArray &body, QString *code)
{
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    QJsonObject o = doc.object();
    if (o.value(QStringLiteral("error")).isObject())
        o = o.value(QStringLiteral("error")).toObject();
    if (o.contains(QStringLiteral("message"))) {
        if (code)
            *code = o.value(QStringLiteral("code")).toString();
        return o.value(QStringLiteral("message")).toString();
    }
    return QString::fromUtf8(body).trimmed().left(300);
}
