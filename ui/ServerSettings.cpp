#include "ServerSettings.h"

#include <QSettings>

ServerSettings ServerSettings::load()
{
    QSettings s;
    ServerSettings out;
    out.embedded = s.value(QStringLiteral("server/embedded"), true).toBool();
    out.remoteUrl = s.value(QStringLiteral("server/url")).toUrl();
    out.apiKey = s.value(QStringLiteral("server/apiKey")).toString();
    if (!out.remoteUrl.isValid() || out.remoteUrl.isEmpty())
        out.embedded = true;
    return out;
}

void ServerSettings::save() const
{
    QSettings s;
    s.setValue(QStringLiteral("server/embedded"), embedded);
    s.setValue(QStringLiteral("server/url"), remoteUrl);
    s.setValue(QStringLiteral("server/apiKey"), apiKey);
}

QUrl ServerSettings::parseUrl(const QString &text)
{
    QString t = text.trimmed();
    if (t.isEmpty())
        return {};
    if (!t.contains(QLatin1String("://")))
        t.prepend(QStringLiteral("http://"));
    QUrl url(t, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")))
        return {};
    return url;
}
