#include "redis/RedisEntraToken.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>

namespace {
constexpr int kCliTimeoutMs = 30000;
RedisEntraToken::Token g_cached; // the backend thread's (every RedisConnection lives there)
RedisEntraToken *g_running = nullptr;
} // namespace

RedisEntraToken::RedisEntraToken(QObject *parent)
    : QObject(parent)
{
    m_timeout.setSingleShot(true);
    m_timeout.setInterval(kCliTimeoutMs);
    connect(&m_timeout, &QTimer::timeout, this, [this] { finish({}, QStringLiteral("`az account get-access-token` did not answer within 30 s")); });
}

QString RedisEntraToken::objectId(const QString &jwt)
{
    const QStringList parts = jwt.split(QLatin1Char('.'));
    if (parts.size() < 2)
        return {};
    const QByteArray payload = QByteArray::fromBase64(parts.at(1).toLatin1(), QByteArray::Base64UrlEncoding);
    return QJsonDocument::fromJson(payload).object().value(QStringLiteral("oid")).toString();
}

qint64 RedisEntraToken::refreshAtMs(const Token &token)
{
    // Five minutes early, or at 80% of a short lifetime (test tokens live seconds).
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const qint64 left = token.expiresAtMs - now;
    return now + qMax<qint64>(1000, qMin(left - 5 * 60 * 1000, left * 4 / 5));
}

void RedisEntraToken::fetch(QObject *context, Done done)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (!g_cached.token.isEmpty() && refreshAtMs(g_cached) > now + 1000 && g_cached.expiresAtMs - now > 60 * 1000) {
        const Token token = g_cached;
        QMetaObject::invokeMethod(context, [done, token] { done(token, {}); }, Qt::QueuedConnection);
        return;
    }
    if (!g_running) {
        g_running = new RedisEntraToken(nullptr);
        g_running->m_waiting.append({context, std::move(done)});
        g_running->run();
        return;
    }
    g_running->m_waiting.append({context, std::move(done)}); // one `az` for every connection
}

void RedisEntraToken::run()
{
    const QString az = QStandardPaths::findExecutable(QStringLiteral("az"));
    if (az.isEmpty()) {
        QMetaObject::invokeMethod(this, [this] {
            finish({}, QStringLiteral("REDIS_AZURE_AUTH=cli needs the Azure CLI (`az`) on PATH, logged in (`az login`)"));
        }, Qt::QueuedConnection);
        return;
    }
    m_process = new QProcess(this);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            finish({}, QStringLiteral("cannot run the Azure CLI: %1").arg(m_process ? m_process->errorString() : QString()));
    });
    connect(m_process, &QProcess::finished, this, [this](int exitCode, QProcess::ExitStatus status) {
        const QByteArray out = m_process->readAllStandardOutput();
        const QString err = QString::fromUtf8(m_process->readAllStandardError()).trimmed().left(300);
        const QJsonObject o = QJsonDocument::fromJson(out).object();
        Token t;
        t.token = o.value(QStringLiteral("accessToken")).toString();
        // expires_on: epoch seconds (az 2.54+); expiresOn: local time (older az).
        const QJsonValue epoch = o.value(QStringLiteral("expires_on"));
        if (epoch.isDouble())
            t.expiresAtMs = qint64(epoch.toDouble()) * 1000;
        else if (epoch.isString())
            t.expiresAtMs = epoch.toString().toLongLong() * 1000;
        else
            t.expiresAtMs = QDateTime::fromString(o.value(QStringLiteral("expiresOn")).toString().left(19), QStringLiteral("yyyy-MM-dd HH:mm:ss"))
                                .toMSecsSinceEpoch();
        t.user = objectId(t.token);
        if (status != QProcess::NormalExit || exitCode != 0 || t.token.isEmpty()) {
            finish({}, QStringLiteral("`az account get-access-token --resource https://redis.azure.com` failed (exit code %1)%2; run `az login`")
                           .arg(exitCode)
                           .arg(err.isEmpty() ? QString() : QStringLiteral(": ") + err));
            return;
        }
        if (t.user.isEmpty()) {
            finish({}, QStringLiteral("the Entra token from `az` has no oid claim: it cannot name the Redis user"));
            return;
        }
        if (t.expiresAtMs <= 0)
            t.expiresAtMs = QDateTime::currentMSecsSinceEpoch() + 30 * 60 * 1000;
        g_cached = t;
        finish(t, {});
    });
    m_timeout.start();
    m_process->start(az, {QStringLiteral("account"), QStringLiteral("get-access-token"), QStringLiteral("--resource"),
                          QStringLiteral("https://redis.azure.com"), QStringLiteral("-o"), QStringLiteral("json")});
}

void RedisEntraToken::finish(const Token &token, const QString &error)
{
    if (g_running == this)
        g_running = nullptr;
    m_timeout.stop();
    if (m_process) {
        m_process->disconnect(this);
        if (m_process->state() != QProcess::NotRunning)
            m_process->kill();
    }
    const auto waiting = std::move(m_waiting);
    for (const auto &w : waiting)
        if (w.first)
            w.second(token, error);
    deleteLater();
}
