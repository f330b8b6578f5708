#include "ProtocolProducer.h"

#include "EventLoop.h"
#include "HttpConn.h"
#include "Monitor.h"
#include "Session.h"

#include <memory>
#include <vector>

namespace bench {
namespace {
constexpr int kProducerConnections = 64;

std::string chunkText(int64_t k, int64_t dueUs, int64_t bytes)
{
    std::string s = std::to_string(k) + ' ' + std::to_string(dueUs) + ' ';
    if (int64_t(s.size()) + 1 < bytes)
        s.append(size_t(bytes - 1 - int64_t(s.size())), 'x');
    s += '\n';
    return s;
}

std::string request(const std::string &method, const std::string &path, const std::string &body, const std::string &extra)
{
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra;
    if (!body.empty())
        r += "Content-Type: text/plain\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return r;
}

struct Producer
{
    std::string path;
    int64_t next = 0;       // the next chunk to send
    bool inFlight = false;
    bool armed = false;     // a timer will send `next`
    int64_t t0Mono = 0, t0Wall = 0;
};
} // namespace

Result runProtocolSessions(const Options &o, const std::string &name, int n, int64_t chunks, double rate, int rampMs)
{
    Result r;
    r.workload = name;
    EventLoop loop;
    RequestPool pool(loop, o.port, kProducerConnections);
    Latencies lat;
    lat.us.reserve(size_t(n) * size_t(chunks));
    std::vector<Session> sessions{size_t(n)};
    std::vector<Producer> producers{size_t(n)};
    std::vector<std::unique_ptr<StreamConn>> readers;
    readers.reserve(size_t(n));
    for (auto &s : sessions)
        s.init(chunks);
    const std::string run = std::to_string(wallUs());
    int next = 0, finished = 0;
    int64_t appendFailures = 0, appended = 0;
    Monitor mon(o);
    const int64_t t0 = monoUs();
    const int64_t rampUs = int64_t(rampMs) * 1000;

    std::function<void(size_t)> send = [&](size_t i) {
        Producer &p = producers[i];
        if (p.inFlight || p.armed || p.next > chunks)
            return;
        if (p.next == chunks) { // everything appended: close
            p.inFlight = true;
            pool.submit(request("POST", p.path, "", "Stream-Closed: true\r\n"), [&, i](int status, const std::string &, const std::string &) {
                producers[i].inFlight = false;
                ++producers[i].next;
                if (status != 204 && status != 200)
                    ++appendFailures;
            });
            return;
        }
        const int64_t dueMono = rate > 0 ? p.t0Mono + int64_t(double(p.next) * 1e6 / rate) : monoUs();
        const int64_t now = monoUs();
        if (dueMono > now) {
            p.armed = true;
            loop.after(dueMono - now, [&, i] {
                producers[i].armed = false;
                send(i);
            });
            return;
        }
        const int64_t dueWall = p.t0Wall + (dueMono - p.t0Mono);
        p.inFlight = true;
        pool.submit(request("POST", p.path, chunkText(p.next, dueWall, o.bytes), {}),
                    [&, i](int status, const std::string &, const std::string &) {
                        Producer &q = producers[i];
                        q.inFlight = false;
                        if (status != 204 && status != 200)
                            ++appendFailures; // the chunk counts as lost at the reader
                        else
                            ++appended;
                        ++q.next;
                        send(i);
                    });
    };
    auto open = [&](size_t i) {
        Producer &p = producers[i];
        p.path = "/v1/stream/bench-" + run + "-" + std::to_string(i);
        sessions[i].startMono = monoUs();
        pool.submit(request("PUT", p.path, "", "Content-Type: text/plain\r\n"), [&, i](int status, const std::string &, const std::string &) {
            if (status != 201 && status != 200) {
                sessions[i].errorText = "create answered " + std::to_string(status);
                sessions[i].closed = true;
                ++finished;
                return;
            }
            StreamConn::Hooks hooks;
            hooks.onHead = [&, i](StreamConn &) {
                // The reader is on: start producing.
                Producer &q = producers[i];
                q.t0Mono = monoUs();
                q.t0Wall = wallUs();
                send(i);
            };
            hooks.onClosed = [&, i](StreamConn &) {
                sessions[i].closed = true;
                ++finished;
            };
            readers.push_back(std::make_unique<StreamConn>(loop, sessions[i], lat,
                                                           httpRequest("GET", producers[i].path + "?offset=-1&live=sse", "text/event-stream", ""),
                                                           hooks, Protocol::DurableStreams));
            readers.back()->start(o.port);
        });
    };
    auto starter = [&] {
        const int64_t now = monoUs();
        while (next < n && (rampUs == 0 || now - t0 >= rampUs * next / n))
            open(size_t(next++));
        mon.sample();
    };
    const double runSec = rate > 0 ? double(chunks) / rate : double(chunks) / 2000.0;
    const int64_t t1 = runToEnd(loop, o, r, t0, rampMs, runSec, n, finished, starter);
    readers.clear();
    addCounts(r, sessions, lat);
    // Lost by the server = acknowledged appends the readers never got; chunks the producer did
    // not get to append before the deadline (a server too slow to take them) are not among them.
    r.set("appended", double(appended));
    r.set("lost_of_appended", double(appended) - r.get("delivered"));
    r.set("append_failures", double(appendFailures + pool.failures));
    r.set("duration_s", double(t1 - t0) / 1e6);
    int64_t firstStart = INT64_MAX, lastChunk = 0;
    for (const Session &s : sessions) {
        firstStart = std::min(firstStart, s.startMono);
        lastChunk = std::max(lastChunk, s.lastChunkMono);
    }
    if (lastChunk > firstStart)
        r.set("chunks_per_s", r.get("delivered") / (double(lastChunk - firstStart) / 1e6));
    mon.finish(r, int64_t(r.get("delivered")));
    return r;
}

} // namespace bench
