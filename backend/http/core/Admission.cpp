#include "http/core/Admission.h"

#include "Metrics.h"
#include "http/core/Reply.h"
#include "redis/RedisConnection.h"
#include "runs/RunError.h"
#include "runs/RunManager.h"

Admission::Admission(RedisConnection *writer, RunManager *runs, double perMinute, double burst)
    : m_writer(writer)
    , m_runs(runs)
    , m_limiter(perMinute, burst)
    , m_perMinute(perMinute)
    , m_burst(burst)
{
}

bool Admission::writable(QHttpServerResponder &responder, const RequestContext &context) const
{
    if (m_writer->isConnected() && !m_runs->writesStalled())
        return true;
    const QString why = m_writer->isConnected() ? QStringLiteral("it is not serving writes yet, e.g. loading its data after a restart")
                                                : m_writer->lastError().message;
    Reply::unavailable(responder, context, RunError::unavailable(why).message);
    return false;
}

bool Admission::rate(QHttpServerResponder &responder, const RequestContext &context)
{
    int retryAfter = 1;
    if (m_limiter.take(context.client, &retryAfter))
        return true;
    Metrics::instance().rateLimited();
    Reply::error(responder, context, Reply::Status::TooManyRequests, "rate_limited",
                 QStringLiteral("too many runs started; try again in %1 s (limit: %2 per minute, bursts of %3)")
                     .arg(retryAfter)
                     .arg(m_perMinute)
                     .arg(m_burst),
                 {{"Retry-After", QByteArray::number(retryAfter)}});
    return false;
}
