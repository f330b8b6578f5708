#pragma once

#include <QObject>
#include <QPointer>
#include <QProcess>
#include <QTimer>

// A Microsoft Entra token for Azure OpenAI from the Azure CLI, for endpoints used without a key:
//
//   az account get-access-token --resource https://cognitiveservices.azure.com --query accessToken -o tsv
//
// run asynchronously (QProcess; never blocks the event loop). Tokens are cached process-wide
// for a while, so runs do not each spawn `az`; invalidate() after a 401 drops the cache.
//
//   auto *cred = new AzureCliCredential(timeoutMs, parent);
//   cred->fetch();           // -> ready(token) | failed(message), exactly once
//   cred->abort();           // nothing is emitted after it
class AzureCliCredential : public QObject
{
    Q_OBJECT
public:
    explicit AzureCliCredential(int timeoutMs, QObject *parent = nullptr);
    ~AzureCliCredential() override;

    void fetch();
    void abort();

    static void invalidate(); // forget the cached token (after the provider rejected it)

Q_SIGNALS:
    void ready(const QString &token);
    void failed(const QString &message);

private:
    void onFinished(int exitCode, QProcess::ExitStatus status);
    void finish(const QString &token, const QString &error);

    QPointer<QProcess> m_process;
    QTimer m_timeout;
    bool m_active = false;
};
