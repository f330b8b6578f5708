#include "http/core/Admission.h"

#include "Metrics.h"
#include "http/core/Reply.h"
#include "redis/RedisRouter.h"
#include "runs/RunError.h"
#include "runs/RunManager.h"

Admission::Admission(RedisRouter *writer, RunManager *runs, double perMinute, double burst)
    : m_writer(writer)
    , m_runs(runs)
    , m_limiter(perMinute, burst)
    , m_perMinute(perMinute)
    , m_burst(burst)
{
}

bool Admission::writable(QHttpServerResponder &responder, const RequestContext &context) const
{
    // On a cluster a new conversation goes to a slot whose primary is up (RunManager::start),
    // so creates go on while one shard fails over.
    const bool up = m_writer->isCluster() ? m_writer->connectedPrimaries() > 0 : m_writer->isConnected();
    if (up && !m_runs->writesStalled())
        return true;
    const QString why = up ? QStringLiteral("it is not serving writes yet, e.g. loading its data after a restart")
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
