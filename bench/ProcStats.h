#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct ProcSample
{
    double cpuSec = 0; // utime + stime
    int64_t rssKb = 0; // VmRSS
    int64_t hwmKb = 0; // VmHWM (peak since start or since resetPeak)
    bool ok = false;
};

ProcSample readProc(int pid);
bool resetPeak(int pid); // echo 5 > /proc/<pid>/clear_refs: VmHWM := VmRSS
int pidListeningOn(int port); // the process holding a LISTEN socket on 127.0.0.1/0.0.0.0:port, or -1
void raiseNoFileLimit(int64_t wanted);

// A tiny blocking RESP client for INFO and housekeeping on 127.0.0.1 (not in any timed path).
class RedisProbe
{
public:
    explicit RedisProbe(int port)
        : m_port(port)
    {
    }
    ~RedisProbe();
    // Sends one command; returns the raw reply (bulk strings unwrapped), "" on failure.
    std::string command(const std::vector<std::string> &args);
    int64_t infoField(const std::string &section, const std::string &field); // -1 if unknown
    int port() const { return m_port; }

private:
    bool ensure();
    int m_port;
    int m_fd = -1;
};

// redis-benchmark XADD on the same Redis: requests per second, or -1.
double redisBenchmarkXadd(int port, int requests, int pipeline, int clients);

} // namespace bench
