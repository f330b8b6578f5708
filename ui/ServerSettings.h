#pragma once

#include <QString>
#include <QUrl>

// Which server the window talks to: the embedded one (default) or a remote base URL with an
// optional API key (sent as `Authorization: Bearer`). Persisted with QSettings ("server/*").
// The key is stored in the user's settings file in clear text, like any QSettings value.
struct ServerSettings
{
    bool embedded = true;
    QUrl remoteUrl;
    QString apiKey;

    static ServerSettings load();
    void save() const;
    // Normalises user input: "host:port" -> http://host:port; nullopt-like invalid QUrl on junk.
    static QUrl parseUrl(const QString &text);
};
