#include "http/AccessControl.h"

#include <QCryptographicHash>
#include <QFile>

#include <cmath>

namespace {
QByteArray sha256(const QByteArray &data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256);
}

// Compares two equal-length digests without an early exit.
bool sameDigest(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}
} // namespace

AccessControl::AccessControl(const QStringList &keys)
{
    for (const QString &k : keys)
        m_digests.append(sha256(k.toUtf8()));
}

QByteArray AccessControl::tenantOf(const QByteArray &key)
{
    return sha256("agent-streams tenant:" + key).toHex().left(16);
}

std::optional<QByteArray> AccessControl::authenticate(const QByteArray &authorization, const QByteArray &accessToken) const
{
    if (!enabled())
        return QByteArray();
    QByteArray key;
    if (authorization.size() > 7 && authorization.left(7).compare("Bearer ", Qt::CaseInsensitive) == 0)
        key = authorization.mid(7).trimmed();
    else if (!accessToken.isEmpty())
        key = accessToken;
    if (key.isEmpty())
        return std::nullopt;
    // Hashing first makes every comparison the same length; every key is compared, so the
    // time taken does not depend on which key (if any) matched.
    const QByteArray digest = sha256(key);
    bool match = false;
    for (const QByteArray &d : m_digests)
        match = sameDigest(d, digest) || match;
    if (!match)
        return std::nullopt;
    return tenantOf(key);
}

std::optional<QStringList> AccessControl::loadKeys(const QString &spec, QString *error)
{
    QStringList raw;
    if (spec.startsWith(QLatin1Char('@'))) {
        QFile file(spec.mid(1));
        if (!file.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read the API key file %1: %2").arg(spec.mid(1), file.errorString());
            return std::nullopt;
        }
        for (const QByteArray &line : file.readAll().split('\n')) {
            const QByteArray t = line.trimmed();
            if (!t.isEmpty() && !t.startsWith('#'))
                raw << QString::fromUtf8(t);
        }
    } else {
        for (const QString &k : spec.split(QLatin1Char(','), Qt::SkipEmptyParts))
            raw << k.trimmed();
    }
    QStringList keys;
    for (const QString &k : std::as_const(raw)) {
        if (k.size() < 16) {
            *error = QStringLiteral("an API key is shorter than 16 characters; use long random keys (e.g. openssl rand -hex 24)");
            return std::nullopt;
        }
        for (const QChar c : k) {
            if (c.unicode() <= 0x20 || c.unicode() >= 0x7f) {
                *error = QStringLiteral("API keys must be printable ASCII without spaces");
                return std::nullopt;
            }
        }
        keys << k;
    }
    return keys;
}

RateLimiter::RateLimiter(double perMinute, double burst)
    : m_perMinute(perMinute)
    , m_burst(qMax(1.0, burst))
{
    m_clock.start();
}

bool RateLimiter::take(const QByteArray &client, int *retryAfterSeconds)
{
    if (!enabled())
        return true;
    const qint64 now = m_clock.elapsed();
    auto it = m_buckets.find(client);
    if (it == m_buckets.end())
        it = m_buckets.insert(client, Bucket{m_burst, now});
    const double perMs = m_perMinute / 60000.0;
    it->tokens = qMin(m_burst, it->tokens + double(now - it->lastMs) * perMs);
    it->lastMs = now;
    if (it->tokens >= 1.0) {
        it->tokens -= 1.0;
        return true;
    }
    if (retryAfterSeconds)
        *retryAfterSeconds = int(std::ceil((1.0 - it->tokens) / perMs / 1000.0));
    if (m_buckets.size() > 100000) { // forget idle clients so the table stays bounded
        for (auto b = m_buckets.begin(); b != m_buckets.end();)
            b = (b->tokens >= m_burst - 1e-9) ? m_buckets.erase(b) : std::next(b);
    }
    return false;
}
