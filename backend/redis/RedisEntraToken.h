#pragma once

#include <QObject>
#include <QPointer>
#include <QProcess>
#include <QTimer>

// A Microsoft Entra ID token for Azure Cache for Redis / Azure Managed Redis, from the Azure
// CLI (REDIS_AZURE_AUTH=cli, or `azure-cli` in the connection string's options):
//
//   az account get-access-token --resource https://redis.azure.com -o json
//
// run asynchronously (QProcess, never blocks the event loop). Azure Redis takes it as
// `AUTH <object id> <token>`: the user is the token's `oid` claim. One token serves every
// connection of the process (cached until shortly before it expires).
//
//   RedisEntraToken::fetch(this, [](const RedisEntraToken::Token &t, const QString &error) {...});
class RedisEntraToken : public QObject
{
    Q_OBJECT
public:
    struct Token
    {
        QString user;      // the oid claim
        QString token;
        qint64 expiresAtMs = 0; // ms since epoch
    };
    using Done = std::function<void(const Token &token, const QString &error)>;
    // Calls done once, on the caller's thread, unless `context` is destroyed first.
    static void fetch(QObject *context, Done done);
    // When a connection should authenticate again: well before the token expires.
    static qint64 refreshAtMs(const Token &token);
    // The oid claim of a JWT ("" if it has none): exposed for tests.
    static QString objectId(const QString &jwt);

private:
    explicit RedisEntraToken(QObject *parent);
    void run();
    void finish(const Token &token, const QString &error);

    QPointer<QProcess> m_process;
    QTimer m_timeout;
    QList<QPair<QPointer<QObject>, Done>> m_waiting;
};
