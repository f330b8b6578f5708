#pragma once

#include "EventLoop.h"
#include "ProcStats.h"
#include "Report.h"
#include "Session.h"
#include "Workloads.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace bench {

double selfCpuSec();

// CPU, peak memory and Redis clients of the server and redis-server over one workload.
class Monitor
{
public:
    Monitor(const Options &o)
        : m_o(o)
        , m_probe(o.redisPort)
    {
        resetPeak(o.serverPid);
        resetPeak(o.redisPid);
        m_server0 = readProc(o.serverPid);
        m_redis0 = readProc(o.redisPid);
        for (int pid : o.moreRedisPids)
            m_moreRedis0 += readProc(pid).cpuSec;
        m_self0 = selfCpuSec();
        sample(true);
    }
    void sample(bool force = false)
    {
        const int64_t now = monoUs();
        if (!force && now - m_last < 100000)
            return;
        m_last = now;
        const ProcSample s = readProc(m_o.serverPid), r = readProc(m_o.redisPid);
        m_serverRss = std::max(m_serverRss, s.rssKb);
        m_redisRss = std::max(m_redisRss, r.rssKb);
        if (force || ++m_ticks % 5 == 0) {
            const int64_t c = m_probe.infoField("clients", "connected_clients");
            if (c > 0)
                m_clients = std::max(m_clients, c - 1); // minus this probe
        }
    }
    int64_t serverRssKb() const { return readProc(m_o.serverPid).rssKb; }
    void finish(Result &r, int64_t delivered)
    {
        sample(true);
        const ProcSample s = readProc(m_o.serverPid), rd = readProc(m_o.redisPid);
        const double serverCpu = s.ok ? s.cpuSec - m_server0.cpuSec : NAN;
        r.set("server_cpu_s", serverCpu);
        double moreRedis = 0;
        for (int pid : m_o.moreRedisPids)
            moreRedis += readProc(pid).cpuSec;
        r.set("redis_cpu_s", rd.ok ? rd.cpuSec - m_redis0.cpuSec + moreRedis - m_moreRedis0 : NAN);
        r.set("bench_cpu_s", selfCpuSec() - m_self0);
        if (delivered > 0)
            r.set("server_cpu_us_per_chunk", serverCpu * 1e6 / double(delivered));
        r.set("server_rss_peak_mib", s.ok ? double(m_serverRss) / 1024.0 : NAN);
        r.set("server_hwm_mib", s.ok ? double(s.hwmKb) / 1024.0 : NAN);
        r.set("redis_rss_peak_mib", rd.ok ? double(m_redisRss) / 1024.0 : NAN);
        r.set("redis_clients_max", m_clients >= 0 ? double(m_clients) : NAN);
    }
    RedisProbe &probe() { return m_probe; }

private:
    const Options &m_o;
    RedisProbe m_probe;
    ProcSample m_server0, m_redis0;
    double m_self0 = 0;
    double m_moreRedis0 = 0;
    int64_t m_last = 0, m_ticks = 0, m_serverRss = 0, m_redisRss = 0, m_clients = -1;
};

// Runs a session workload's loop until `finished` reaches n, or its deadline passes (the ramp,
// the run itself and 30 s, scaled by --timeout-scale: noted as a timeout). Returns when it ended.
int64_t runToEnd(EventLoop &loop, const Options &o, Result &r, int64_t t0, int rampMs, double runSec, int n, const int &finished,
                 const std::function<void()> &starter);

// The session counts of a workload (delivered, lost, dup, ...) and its latency percentiles.
void addCounts(Result &r, const std::vector<Session> &sessions, Latencies &lat);

} // namespace bench
