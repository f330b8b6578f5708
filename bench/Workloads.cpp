#include "Workloads.h"

#include "EventLoop.h"
#include "HttpConn.h"
#include "Monitor.h"
#include "ProcStats.h"
#include "Session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <thread>
#include <time.h>
#include <unistd.h>

namespace bench {
namespace {

constexpr double kMiB = 1024.0;

std::string createBody(int64_t chunks, int64_t bytes, double rate)
{
    char buf[160];
    snprintf(buf, sizeof buf, "{\"prompt\":\"bench\",\"provider\":\"synthetic\",\"chunks\":%lld,\"bytes\":%lld,\"rate\":%g}",
             static_cast<long long>(chunks), static_cast<long long>(bytes), rate);
    return buf;
}

// POST /v1/responses for the synthetic provider (its parameters as extra body fields).
std::string responsesBody(int64_t chunks, int64_t bytes, double rate, bool stream)
{
    char buf[220];
    snprintf(buf, sizeof buf,
             "{\"model\":\"synthetic\",\"input\":\"bench\",\"background\":true,\"stream\":%s,\"chunks\":%lld,\"bytes\":%lld,\"rate\":%g}",
             stream ? "true" : "false", static_cast<long long>(chunks), static_cast<long long>(bytes), rate);
    return buf;
}

std::string createRequest(const Options &o, int64_t chunks, double rate)
{
    if (o.protocol == Protocol::Responses)
        return httpRequest("POST", "/v1/responses", "text/event-stream", responsesBody(chunks, o.bytes, rate, true));
    return httpRequest("POST", "/api/agent/create", o.protocol == Protocol::DurableStreams ? "application/json" : "text/event-stream",
                       createBody(chunks, o.bytes, rate));
}


} // namespace

// W1, W2, W4, W5-live: each session POSTs a create and reads its SSE answer to the end.
Result runSessions(const Options &o, const std::string &name, int n, int64_t chunks, double rate, int rampMs, bool drop)
{
    Result r;
    r.workload = name;
    EventLoop loop;
    Latencies lat;
    lat.us.reserve(size_t(n) * size_t(chunks));
    std::vector<Session> sessions(static_cast<size_t>(n));
    std::vector<std::unique_ptr<StreamConn>> conns;
    conns.reserve(size_t(n) * (drop || o.protocol == Protocol::DurableStreams ? 2 : 1));
    std::mt19937 rng(o.seed);
    std::vector<bool> dropping(size_t(n), false);
    for (auto &s : sessions) {
        s.init(chunks);
        if (drop && chunks > 2)
            s.dropAtK = std::uniform_int_distribution<int64_t>(1, chunks - 2)(rng);
    }
    const std::string create = createRequest(o, chunks, rate);
    int next = 0, connecting = 0, finished = 0;
    Monitor mon(o);
    const int64_t t0 = monoUs();
    const int64_t rampUs = int64_t(rampMs) * 1000;

    std::function<void(size_t, const std::string &)> open = [&](size_t i, const std::string &request) {
        Session &s = sessions[i];
        StreamConn::Hooks hooks;
        hooks.onHead = [&, i](StreamConn &c) {
            --connecting;
            if (sessions[i].convId.empty())
                sessions[i].convId = headerValue(c.head, "x-conversation-id");
            if (o.protocol == Protocol::DurableStreams && c.status == 201 && sessions[i].reconnects == 0 && !c.closed) {
                // The create answered with the stream's path: read it with the protocol's SSE
                // live mode from the start (the chunks appended since are in it).
                const std::string path = headerValue(c.head, "Location");
                if (path.empty())
                    return; // the status check fails it
                dropping[i] = true;
                c.abort();
                dropping[i] = false;
                ++connecting;
                open(i, httpRequest("GET", path + "?offset=-1&live=sse", "text/event-stream", ""));
            }
        };
        hooks.onChunk = [&, i](StreamConn &c, int64_t k) {
            Session &ss = sessions[i];
            if (!drop || k != ss.dropAtK || ss.reconnects > 0)
                return;
            dropping[i] = true;
            c.abort(); // like a network drop: the rest of what was read is lost to this client
            const int64_t delayUs = std::uniform_int_distribution<int64_t>(0, int64_t(o.w4MaxReconnectDelayMs) * 1000)(rng);
            loop.after(delayUs, [&, i] {
                Session &s2 = sessions[i];
                ++s2.reconnects;
                dropping[i] = false;
                ++connecting;
                open(i, httpRequest("GET", "/api/agent/stream/" + s2.convId, "text/event-stream", "",
                                    "Last-Event-ID: " + s2.lastIdText + "\r\n"));
            });
        };
        hooks.onClosed = [&, i](StreamConn &c) {
            if (c.status == 0)
                --connecting;
            if (dropping[i])
                return;
            sessions[i].closed = true;
            ++finished;
        };
        if (s.startMono == 0)
            s.startMono = monoUs();
        conns.push_back(std::make_unique<StreamConn>(loop, s, lat, request, hooks, o.protocol));
        conns.back()->start(o.port);
    };
    auto starter = [&] {
        const int64_t now = monoUs();
        while (next < n && connecting < o.maxConnecting && (rampUs == 0 || now - t0 >= rampUs * next / n)) {
            ++connecting;
            open(size_t(next++), create);
        }
        mon.sample();
    };
    const double runSec = rate > 0 ? double(chunks) / rate : double(chunks) / 20000.0;
    const int64_t t1 = runToEnd(loop, o, r, t0, rampMs, runSec, n, finished, starter);
    conns.clear(); // closes whatever is still open
    if (!o.timelineDir.empty()) {
        const std::string path = o.timelineDir + "/" + (o.label.empty() ? name : o.label) + "-timeline.txt";
        if (FILE *f = fopen(path.c_str(), "w")) {
            fputs(lat.timeline(t0, 250000).c_str(), f);
            fclose(f);
        }
    }
    addCounts(r, sessions, lat);
    int64_t firstStart = INT64_MAX, lastChunk = 0;
    for (const Session &s : sessions) {
        firstStart = std::min(firstStart, s.startMono);
        lastChunk = std::max(lastChunk, s.lastChunkMono);
    }
    r.set("duration_s", double(t1 - t0) / 1e6);
    if (lastChunk > firstStart)
        r.set("chunks_per_s", r.get("delivered") / (double(lastChunk - firstStart) / 1e6));
    if (n == 1 && sessions[0].firstChunkMono > 0)
        r.set("first_chunk_ms", double(sessions[0].firstChunkMono - sessions[0].startMono) / 1000);
    mon.finish(r, int64_t(r.get("delivered")));
    return r;
}

namespace {
// Reads one SSE GET to its end; returns false on timeout.
bool readStream(const Options &o, Session &s, Latencies &lat, const std::string &path, int64_t timeoutUs)
{
    EventLoop loop;
    bool closed = false;
    StreamConn::Hooks hooks;
    hooks.onClosed = [&](StreamConn &) { closed = true; };
    s.startMono = monoUs();
    StreamConn c(loop, s, lat, httpRequest("GET", path, "text/event-stream", ""), hooks, o.protocol);
    c.start(o.port);
    // done() is checked between epoll batches: the done event ends the timing, not the close.
    return loop.run([&] { return closed || s.done; }, monoUs() + timeoutUs);
}

struct Spread
{
    double median = NAN, min = NAN, max = NAN;
};
Spread spread(std::vector<double> v)
{
    Spread s;
    if (v.empty())
        return s;
    std::sort(v.begin(), v.end());
    s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    s.min = v.front();
    s.max = v.back();
    return s;
}
} // namespace

// W3: a finished stream of N chunks; resume from the middle, and replay from the start.
Result runResume(const Options &o)
{
    Result r;
    r.workload = "W3";
    const int64_t n = o.w3Chunks;
    const bool responses = o.protocol == Protocol::Responses;
    std::string convId, responseId;
    {
        EventLoop loop;
        RequestPool pool(loop, o.port, 1);
        pool.submit(responses ? httpRequest("POST", "/v1/responses", "application/json", responsesBody(n, o.bytes, 0, false), {}, true)
                              : httpRequest("POST", "/api/agent/create", "application/json", createBody(n, o.bytes, 0), {}, true),
                    [&](int status, const std::string &head, const std::string &body) {
                        if (status == 202 || (responses && status == 200))
                            convId = headerValue(head, "x-conversation-id");
                        const size_t at = body.find("\"id\":\"resp_");
                        if (at != std::string::npos)
                            responseId = body.substr(at + 6, 53);
                    });
        loop.run([&] { return pool.idle(); }, monoUs() + int64_t(10e6 * o.timeoutScale));
    }
    if (convId.empty() || (responses && responseId.size() != 53)) {
        r.note("error", "background create failed");
        return r;
    }
    // Responses: ?stream=true replays the response; a resume continues after a sequence number.
    const std::string path = responses ? "/v1/responses/" + responseId + "?stream=true" : "/api/agent/stream/" + convId;
    const std::string resumeAfter = responses ? "&starting_after=" : "?cursor=";
    // Follow it to the end (the first read also learns the id of every chunk).
    Session first;
    first.init(n, true);
    Latencies ignored;
    if (!readStream(o, first, ignored, path, int64_t(120e6 * o.timeoutScale)) || !first.done) {
        r.note("error", "the stream did not finish: " + first.errorText);
        return r;
    }
    const int64_t half = n / 2;
    const std::string cursor = first.idOfK[size_t(half - 1)];
    Monitor mon(o);
    std::vector<double> resumeMs, replayMs;
    std::vector<Session> checked;
    Latencies lat; // not meaningful for replays (the chunks are old): not reported
    for (int it = 0; it < o.w3Iterations; ++it) {
        Session a;
        a.init(n);
        for (int64_t k = 0; k < half; ++k)
            a.seen[size_t(k)] = 1; // the client has these
        a.delivered = half;
        const bool okA = readStream(o, a, lat, path + resumeAfter + cursor, int64_t(30e6 * o.timeoutScale));
        if (okA && a.done)
            resumeMs.push_back(double(a.doneMono - a.startMono) / 1000);
        checked.push_back(std::move(a));
        Session b;
        b.init(n);
        const bool okB = readStream(o, b, lat, path, int64_t(30e6 * o.timeoutScale));
        if (okB && b.done)
            replayMs.push_back(double(b.doneMono - b.startMono) / 1000);
        checked.push_back(std::move(b));
        mon.sample();
    }
    Latencies none;
    addCounts(r, checked, none);
    r.set("p50_ms", NAN);
    r.set("p99_ms", NAN);
    r.set("max_ms", NAN);
    const Spread a = spread(resumeMs), b = spread(replayMs);
    r.set("resume_half_ms", a.median);
    r.set("resume_half_min_ms", a.min);
    r.set("resume_half_max_ms", a.max);
    r.set("replay_full_ms", b.median);
    r.set("replay_full_min_ms", b.min);
    r.set("replay_full_max_ms", b.max);
    r.set("resume_chunks", double(n - half));
    r.set("replay_chunks", double(n));
    if (b.median > 0)
        r.set("chunks_per_s", double(n) / (b.median / 1000));
    r.set("live_follow_chunks_per_s",
          first.lastChunkMono > first.startMono ? double(n) / (double(first.lastChunkMono - first.startMono) / 1e6) : NAN);
    mon.finish(r, int64_t(r.get("delivered")) - half * o.w3Iterations); // the resumed halves were pre-counted
    return r;
}

// W5 idle: M runs that stay quiet (a chunk now, the next in 1000 s), each followed by one open
// SSE GET. Server RSS is read before the runs, after the runs, and with every stream open.
Result runIdle(const Options &o)
{
    Result r;
    r.workload = "W5-idle";
    const int m = o.w5Idle;
    EventLoop loop;
    Monitor mon(o);
    const int64_t rssBefore = mon.serverRssKb();
    std::vector<std::string> ids;
    ids.reserve(size_t(m));
    auto pool = std::make_unique<RequestPool>(loop, o.port, 8);
    const std::string create = httpRequest("POST", "/api/agent/create", "application/json", createBody(2, o.bytes, 0.001), {}, true);
    int64_t t0 = monoUs();
    for (int i = 0; i < m; ++i)
        pool->submit(create, [&](int status, const std::string &head, const std::string &) {
            if (status == 202)
                ids.push_back(headerValue(head, "x-conversation-id"));
        });
    loop.run([&] { return pool->idle(); }, monoUs() + int64_t(300e6 * o.timeoutScale), [&] { mon.sample(); });
    r.set("runs_created", double(ids.size()));
    r.set("create_per_s", double(ids.size()) / (double(monoUs() - t0) / 1e6));
    loop.run([] { return false; }, monoUs() + 1000000, [&] { mon.sample(); }); // settle
    const int64_t rssRuns = mon.serverRssKb();

    // Open one stream per run; wait until each has its chunk 0.
    std::vector<Session> sessions(ids.size());
    std::vector<std::unique_ptr<StreamConn>> conns;
    conns.reserve(ids.size());
    Latencies lat;
    int connecting = 0, ready = 0, closed = 0;
    size_t next = 0;
    t0 = monoUs();
    auto starter = [&] {
        while (next < ids.size() && connecting < o.maxConnecting) {
            const size_t i = next++;
            sessions[i].init(2);
            sessions[i].convId = ids[i];
            StreamConn::Hooks hooks;
            hooks.onHead = [&](StreamConn &) { --connecting; };
            hooks.onChunk = [&](StreamConn &, int64_t k) { ready += k == 0 ? 1 : 0; };
            hooks.onClosed = [&](StreamConn &c) {
                if (c.status == 0)
                    --connecting;
                ++closed;
            };
            ++connecting;
            conns.push_back(std::make_unique<StreamConn>(loop, sessions[i], lat,
                                                         httpRequest("GET", "/api/agent/stream/" + ids[i], "text/event-stream", ""), hooks));
            conns.back()->start(o.port);
        }
        mon.sample();
    };
    starter();
    loop.run([&] { return next >= ids.size() && ready + closed >= int(ids.size()); }, monoUs() + int64_t(300e6 * o.timeoutScale), starter,
             1000);
    const double openSec = double(monoUs() - t0) / 1e6;
    // Hold them open, idle.
    const ProcSample holdStart = readProc(o.serverPid);
    loop.run([] { return false; }, monoUs() + int64_t(o.w5IdleHoldMs) * 1000, [&] { mon.sample(); });
    const ProcSample holdEnd = readProc(o.serverPid);
    const int64_t rssOpen = mon.serverRssKb();
    int open = 0;
    for (const auto &c : conns)
        open += c->closed ? 0 : 1;
    r.set("idle_streams_open", double(open));
    r.set("idle_streams_ready", double(ready));
    r.set("open_s", openSec);
    r.set("server_rss_before_mib", double(rssBefore) / kMiB);
    r.set("server_rss_runs_mib", double(rssRuns) / kMiB);
    r.set("server_rss_open_mib", double(rssOpen) / kMiB);
    if (open > 0) {
        r.set("kib_per_idle_stream", double(rssOpen - rssBefore) / double(open));
        r.set("kib_per_idle_connection", double(rssOpen - rssRuns) / double(open));
    }
    r.set("idle_server_cpu_pct", holdStart.ok ? 100.0 * (holdEnd.cpuSec - holdStart.cpuSec) / (double(o.w5IdleHoldMs) / 1000) : NAN);
    {
        // Redis clients with everything open (the Monitor also keeps the maximum).
        const int64_t c = mon.probe().infoField("clients", "connected_clients");
        r.set("redis_clients_open", c > 0 ? double(c - 1) : NAN);
    }
    // Tear down: drop the streams, cancel the runs.
    conns.clear();
    int cancelled = 0;
    for (const std::string &id : ids)
        pool->submit(httpRequest("POST", "/api/agent/" + id + "/cancel", "application/json", "", {}, true),
                     [&](int status, const std::string &, const std::string &) { cancelled += status >= 200 && status < 300; });
    loop.run([&] { return pool->idle(); }, monoUs() + int64_t(120e6 * o.timeoutScale), [&] { mon.sample(); });
    r.set("runs_cancelled", double(cancelled));
    r.set("request_failures", double(pool->failures));
    mon.finish(r, 0);
    return r;
}

namespace {
double percentileUs(std::vector<double> v, double p)
{
    if (v.empty())
        return -1;
    std::sort(v.begin(), v.end());
    return v[size_t(p * double(v.size() - 1) + 0.5)];
}

double monoUsFine()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) * 1e6 + double(ts.tv_nsec) / 1e3;
}

bool recvAll(int fd, char *buf, size_t size)
{
    for (size_t got = 0; got < size;) {
        const ssize_t n = ::recv(fd, buf + got, size - got, 0);
        if (n <= 0)
            return false;
        got += size_t(n);
    }
    return true;
}

// Half the round trip of a 64-byte message to an echo thread over loopback TCP, each way a
// send() to a peer asleep in recv() (what a live chunk costs on its last hop).
std::vector<double> loopbackOneWayUs(int rounds)
{
    std::vector<double> out;
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0
        || ::getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        if (listener >= 0)
            ::close(listener);
        return out;
    }
    const int a = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(a, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
        ::close(a);
        ::close(listener);
        return out;
    }
    const int b = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    const int one = 1;
    ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::thread echo([b, rounds] {
        char buf[64];
        for (int i = 0; i < rounds; ++i) {
            if (!recvAll(b, buf, sizeof buf) || ::send(b, buf, sizeof buf, MSG_NOSIGNAL) != ssize_t(sizeof buf))
                return;
        }
    });
    char buf[64] = {};
    for (int i = 0; i < rounds; ++i) {
        const double t0 = monoUsFine();
        if (::send(a, buf, sizeof buf, MSG_NOSIGNAL) != ssize_t(sizeof buf) || !recvAll(a, buf, sizeof buf))
            break;
        out.push_back((monoUsFine() - t0) / 2);
    }
    ::close(a);
    echo.join();
    ::close(b);
    return out;
}
} // namespace

Result runFloor(const Options &o)
{
    Result r;
    r.workload = "floor";
    RedisProbe probe(o.redisPort);
    std::vector<double> ping;
    for (int i = 0; i < 2000; ++i) {
        const double t0 = monoUsFine();
        if (probe.command({"PING"}) != "+PONG")
            break;
        ping.push_back(monoUsFine() - t0);
    }
    r.set("redis_ping_rtt_p50_us", percentileUs(ping, 0.5));
    r.set("redis_ping_rtt_p99_us", percentileUs(ping, 0.99));
    const std::vector<double> oneWay = loopbackOneWayUs(2000);
    r.set("loopback_one_way_p50_us", percentileUs(oneWay, 0.5));
    r.set("loopback_one_way_p99_us", percentileUs(oneWay, 0.99));
    return r;
}

Result runXadd(const Options &o)
{
    Result r;
    r.workload = "xadd";
    Monitor mon(o);
    r.set("xadd_pipelined_rps", redisBenchmarkXadd(o.redisPort, o.xaddRequests, 16, 50));
    r.set("xadd_rps", redisBenchmarkXadd(o.redisPort, o.xaddRequests / 2, 1, 50));
    mon.probe().command({"DEL", "bench:xadd:stream"});
    mon.finish(r, 0);
    return r;
}

} // namespace bench
