#include "agents/AzureCliCredential.h"

#include <QDeadlineTimer>
#include <QMutex>
#include <QStandardPaths>

namespace {
// Entra access tokens live 60-90 minutes; refresh well before that.
constexpr qint64 kCacheMs = 30 * 60 * 1000;

struct TokenCache
{
    QMutex mutex;
    QString token;
    QDeadlineTimer expiry;
};
TokenCache &cache()
{
    static TokenCache c;
    return c;
}
} // namespace

AzureCliCredential::AzureCliCredential(int timeoutMs, QObject *parent)
    : QObject(parent)
{
    m_timeout.setSingleShot(true);
    m_timeout.setInterval(qMax(1, timeoutMs));
    connect(&m_timeout, &QTimer::timeout, this, [this] {
        finish({}, QStringLiteral("the Azure CLI did not return an access token within %1 s").arg(m_timeout.interval() / 1000.0));
    });
}

AzureCliCredential::~AzureCliCredential()
{
    abort();
}

void AzureCliCredential::invalidate()
{
    QMutexLocker lock(&cache().mutex);
    cache().token.clear();
}

void AzureCliCredential::fetch()
{
    m_active = true;
    {
        QMutexLocker lock(&cache().mutex);
        if (!cache().token.isEmpty() && !cache().expiry.hasExpired()) {
            const QString token = cache().token;
            lock.unlock();
            // Asynchronous like a real fetch, so callers see one behaviour.
            QMetaObject::invokeMethod(this, [this, token] { finish(token, {}); }, Qt::QueuedConnection);
            return;
        }
    }
    const QString az = QStandardPaths::findExecutable(QStringLiteral("az"));
    if (az.isEmpty()) {
        QMetaObject::invokeMethod(
            this,
            [this] {
                finish({}, QStringLiteral("AZURE_OPENAI_KEY is not set and the Azure CLI (`az`) is not on PATH: set AZURE_OPENAI_KEY "
                                          "or install the Azure CLI and run `az login`"));
            },
            Qt::QueuedConnection);
        return;
    }
    m_process = new QProcess(this);
    connect(m_process, &QProcess::finished, this, &AzureCliCredential::onFinished);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            finish({}, QStringLiteral("cannot run the Azure CLI: %1").arg(m_process ? m_process->errorString() : QString()));
    });
    m_timeout.start();
    m_process->start(az, {QStringLiteral("account"), QStringLiteral("get-access-token"), QStringLiteral("--resource"),
                          QStringLiteral("https://cognitiveservices.azure.com"), QStringLiteral("--query"),
                          QStringLiteral("accessToken"), QStringLiteral("-o"), QStringLiteral("tsv")});
}

void AzureCliCredential::onFinished(int exitCode, QProcess::ExitStatus status)
{
    if (!m_process)
        return;
    const QString out = QString::fromUtf8(m_process->readAllStandardOutput()).trimmed();
    const QString err = QString::fromUtf8(m_process->readAllStandardError()).trimmed();
    if (status != QProcess::NormalExit || exitCode != 0 || out.isEmpty()) {
        finish({}, QStringLiteral("`az account get-access-token` failed (exit code %1)%2%3; run `az login` or set AZURE_OPENAI_KEY")
                       .arg(exitCode)
                       .arg(err.isEmpty() ? QString() : QStringLiteral(": "), err.left(500)));
        return;
    }
    const QString token = out.section(QLatin1Char('\n'), 0, 0).trimmed();
    {
        QMutexLocker lock(&cache().mutex);
        cache().token = token;
        cache().expiry = QDeadlineTimer(kCacheMs);
    }
    finish(token, {});
}

void AzureCliCredential::finish(const QString &token, const QString &error)
{
    if (!m_active)
        return;
    m_active = false;
    m_timeout.stop();
    if (m_process) {
        m_process->disconnect(this);
        if (m_process->state() != QProcess::NotRunning)
            m_process->kill(); // the QProcess destructor reaps it
        m_process->deleteLater();
        m_process = nullptr;
    }
    if (error.isEmpty())
        Q_EMIT ready(token);
    else
        Q_EMIT failed(error);
}

void AzureCliCredential::abort()
{
    m_active = false;
    m_timeout.stop();
    if (m_process) {
        m_process->disconnect(this);
        if (m_process->state() != QProcess::NotRunning)
            m_process->kill();
        m_process->deleteLater();
        m_process = nullptr;
    }
}
