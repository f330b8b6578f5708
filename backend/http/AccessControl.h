#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>
#include <optional>

// Optional API keys. Off when no key is configured. A request authenticates with
// `Authorization: Bearer <key>` (or `?access_token=<key>` for EventSource, which cannot set
// headers); the key's tenant id (a hash prefix, never the key) owns what it creates.
class AccessControl
{
public:
    explicit AccessControl(const QStringList &keys = {});
    bool enabled() const { return !m_digests.isEmpty(); }
    // The tenant of the presented key; "" when auth is off; nullopt when refused.
    std::optional<QByteArray> authenticate(const QByteArray &authorization, const QByteArray &accessToken) const;
    static QByteArray tenantOf(const QByteArray &key);
    // "k1,k2" or "@/path/to/file" (one key per line, # comments). Keys shorter than 16
    // characters are refused: they are guessable.
    static std::optional<QStringList> loadKeys(const QString &spec, QString *error);

private:
    QList<QByteArray> m_digests; // SHA-256 of each key
};

// Token buckets per client key (tenant, or address when auth is off).
class RateLimiter
{
public:
    RateLimiter(double perMinute, double burst);
    // Takes one token; false with the seconds until the next one when the bucket is empty.
    bool take(const QByteArray &client, int *retryAfterSeconds);
    bool enabled() const { return m_perMinute > 0; }

private:
    struct Bucket
    {
        double tokens;
        qint64 lastMs;
    };
    double m_perMinute;
    double m_burst;
    QElapsedTimer m_clock;
    QHash<QByteArray, Bucket> m_buckets;
};
