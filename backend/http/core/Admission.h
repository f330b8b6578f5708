#pragma once

#include "http/AccessControl.h"
#include "http/core/RequestContext.h"

#include <QHttpServerResponder>

class RedisRouter;
class RunManager;

// The checks every family makes before it starts a run: Redis takes writes, and the caller's
// create rate limit (one bucket per client, shared by the families). On false the error has
// been sent in the request's format.
class Admission
{
public:
    Admission(RedisRouter *writer, RunManager *runs, double perMinute, double burst);
    bool writable(QHttpServerResponder &responder, const RequestContext &context) const;
    bool rate(QHttpServerResponder &responder, const RequestContext &context);

private:
    RedisRouter *m_writer;
    RunManager *m_runs;
    RateLimiter m_limiter;
    double m_perMinute;
    double m_burst;
};
