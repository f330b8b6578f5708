#include "Monitor.h"

#include <sys/resource.h>

namespace bench {

double selfCpuSec()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int64_t runToEnd(EventLoop &loop, const Options &o, Result &r, int64_t t0, int rampMs, double runSec, int n, const int &finished,
                 const std::function<void()> &starter)
{
    const int64_t deadline = t0 + int64_t((double(rampMs) / 1000 + runSec + 30) * 1e6 * o.timeoutScale);
    starter();
    const bool completed = loop.run([&] { return finished >= n; }, deadline, starter, 1000);
    if (!completed)
        r.note("timeout", "deadline passed with " + std::to_string(n - finished) + " sessions open");
    return monoUs();
}

void addCounts(Result &r, const std::vector<Session> &sessions, Latencies &lat)
{
    int64_t expected = 0, delivered = 0, dup = 0, rawDup = 0, ooo = 0, bad = 0, done = 0, failed = 0, reconnects = 0;
    std::string firstError;
    for (const Session &s : sessions) {
        expected += s.chunks;
        delivered += s.delivered;
        dup += s.dup;
        rawDup += s.rawDup;
        ooo += s.outOfOrder;
        bad += s.badChunks;
        reconnects += s.reconnects;
        done += s.done ? 1 : 0;
        if (!s.done || s.error) {
            ++failed;
            if (firstError.empty())
                firstError = s.errorText.empty() ? "no done event" : s.errorText;
        }
    }
    r.set("sessions", double(sessions.size()));
    r.set("sessions_done", double(done));
    r.set("sessions_failed", double(failed));
    r.set("chunks_expected", double(expected));
    r.set("delivered", double(delivered));
    r.set("lost", double(expected - delivered));
    r.set("dup", double(dup));
    r.set("raw_dup", double(rawDup));
    r.set("out_of_order", double(ooo));
    r.set("bad_chunks", double(bad));
    r.set("reconnects", double(reconnects));
    r.set("p50_ms", lat.percentileMs(50));
    r.set("p99_ms", lat.percentileMs(99));
    r.set("max_ms", lat.maxMs());
    if (!firstError.empty())
        r.note("first_error", firstError);
}

} // namespace bench
