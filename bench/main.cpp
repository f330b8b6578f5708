// agent-streams-bench: load client for a running `agent-streams --headless --bench` server.
// Raw non-blocking sockets on one epoll loop (one thread), so thousands of streams cost the
// client little. See docs/BENCHMARKS.md for the method; scripts/bench.sh runs everything.
#include "ProcStats.h"
#include "Report.h"
#include "ProtocolProducer.h"
#include "Workloads.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace bench;

namespace {

void usage()
{
    printf(
        "usage: agent-streams-bench [options]\n"
        "  --port P             server port on 127.0.0.1 (default 7071)\n"
        "  --redis [H:]P        the server's Redis, 127.0.0.1 only (default 6379)\n"
        "  --server-pid N       server pid (default: the process listening on --port)\n"
        "  --redis-pid N[,N..]  redis-server pid(s) (default: the process listening on the Redis port);\n"
        "                       a cluster's nodes comma-separated: redis_cpu_s is their sum\n"
        "  --workload LIST      comma list of floor,xadd,W1,W2,W3,W4,W5,W5-live,W5-idle or all (default all)\n"
        "  --bytes S            bytes per chunk (default 40)\n"
        "  --seed N             drop points and reconnect delays of W4 (default 1)\n"
        "  --max-connecting N   connections waiting for a response head at once (default 64)\n"
        "  --timeout-scale F    multiply every deadline (default 1)\n"
        "  --w1-sessions N --w1-chunks N --w1-rate R --w1-ramp-ms N   (200, 200, 20, 1000)\n"
        "  --w2-chunks N                                              (20000, rate 0)\n"
        "  --w3-chunks N --w3-iterations N                            (10000, 5)\n"
        "  --w4-sessions N --w4-chunks N --w4-rate R --w4-max-delay-ms N  (50, 200, 20, 500)\n"
        "  --w5-live N --w5-chunks N --w5-rate R --w5-ramp-ms N       (2000, 200, 20, 2000)\n"
        "  --w5-idle N --w5-hold-ms N                                 (10000, 3000)\n"
        "  --xadd-requests N    redis-benchmark -n (default 200000; half without pipelining)\n"
        "  --quick              small counts for a smoke test\n"
        "  --timeline-dir D     write D/<workload>-timeline.txt: latency p50/p99/max per 250 ms\n"
        "  --protocol P         agent-streams (default), responses (W1, W3 through /v1/responses) or\n"
        "                       durable-streams: a peer speaking the Durable\n"
        "                       Streams protocol (create answers 201 + Location; SSE live mode read;\n"
        "                       W1, W2, W5-live only). See bench/peers/. durable-http: the bench\n"
        "                       itself appends over the Durable Streams protocol (PUT /v1/stream/..,\n"
        "                       a POST per chunk, a close) and reads its SSE live mode, for any\n"
        "                       server that speaks it: ours and the reference peer (W1, W2 only).\n"
        "  --label NAME         report the (single) workload under NAME, e.g. W1-resumable-stream\n"
        "Output: a block per workload, a summary table, and one 'BENCH_JSON {...}' line per workload.\n");
}

bool parseArgs(int argc, char **argv, Options &o, std::vector<std::string> &workloads)
{
    std::string list = "all";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> const char * {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s needs a value\n", a.c_str());
                exit(2);
            }
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            usage();
            exit(0);
        } else if (a == "--port")
            o.port = atoi(val());
        else if (a == "--redis") {
            std::string v = val();
            const size_t colon = v.rfind(':');
            if (colon != std::string::npos) {
                const std::string host = v.substr(0, colon);
                if (host != "127.0.0.1" && host != "localhost") {
                    fprintf(stderr, "only 127.0.0.1 is supported\n");
                    return false;
                }
                v = v.substr(colon + 1);
            }
            o.redisPort = atoi(v.c_str());
        } else if (a == "--server-pid")
            o.serverPid = atoi(val());
        else if (a == "--redis-pid") {
            // One pid, or a cluster's nodes "a,b,c" (the first is the one --redis names).
            std::string v = val();
            for (char &c : v)
                c = c == ',' ? ' ' : c;
            char *p = v.data(), *end = nullptr;
            for (long pid = strtol(p, &end, 10); end != p; pid = strtol(p, &end, 10)) {
                if (o.redisPid <= 0)
                    o.redisPid = int(pid);
                else
                    o.moreRedisPids.push_back(int(pid));
                p = end;
            }
        } else if (a == "--workload")
            list = val();
        else if (a == "--bytes")
            o.bytes = atoll(val());
        else if (a == "--seed")
            o.seed = uint32_t(strtoul(val(), nullptr, 10));
        else if (a == "--max-connecting")
            o.maxConnecting = atoi(val());
        else if (a == "--timeline-dir")
            o.timelineDir = val();
        else if (a == "--timeout-scale")
            o.timeoutScale = atof(val());
        else if (a == "--w1-sessions")
            o.w1Sessions = atoi(val());
        else if (a == "--w1-chunks")
            o.w1Chunks = atoll(val());
        else if (a == "--w1-rate")
            o.w1Rate = atof(val());
        else if (a == "--w1-ramp-ms")
            o.w1RampMs = atoi(val());
        else if (a == "--w2-chunks")
            o.w2Chunks = atoll(val());
        else if (a == "--w3-chunks")
            o.w3Chunks = atoll(val());
        else if (a == "--w3-iterations")
            o.w3Iterations = atoi(val());
        else if (a == "--w4-sessions")
            o.w4Sessions = atoi(val());
        else if (a == "--w4-chunks")
            o.w4Chunks = atoll(val());
        else if (a == "--w4-rate")
            o.w4Rate = atof(val());
        else if (a == "--w4-max-delay-ms")
            o.w4MaxReconnectDelayMs = atoi(val());
        else if (a == "--w5-live")
            o.w5Live = atoi(val());
        else if (a == "--w5-chunks")
            o.w5Chunks = atoll(val());
        else if (a == "--w5-rate")
            o.w5Rate = atof(val());
        else if (a == "--w5-ramp-ms")
            o.w5RampMs = atoi(val());
        else if (a == "--w5-idle")
            o.w5Idle = atoi(val());
        else if (a == "--w5-hold-ms")
            o.w5IdleHoldMs = atoi(val());
        else if (a == "--xadd-requests")
            o.xaddRequests = atoi(val());
        else if (a == "--protocol") {
            const std::string p = val();
            if (p == "agent-streams")
                o.protocol = Protocol::AgentStreams;
            else if (p == "durable-streams")
                o.protocol = Protocol::DurableStreams;
            else if (p == "responses")
                o.protocol = Protocol::Responses;
            else if (p == "durable-http") {
                o.protocol = Protocol::DurableStreams;
                o.protocolProducer = true;
            } else {
                fprintf(stderr, "--protocol: agent-streams, responses, durable-streams or durable-http\n");
                return false;
            }
        } else if (a == "--label")
            o.label = val();
        else if (a == "--quick") {
            o.w1Sessions = 20;
            o.w1Chunks = 40;
            o.w2Chunks = 2000;
            o.w3Chunks = 1000;
            o.w3Iterations = 3;
            o.w4Sessions = 10;
            o.w4Chunks = 40;
            o.w5Live = 100;
            o.w5Chunks = 40;
            o.w5RampMs = 500;
            o.w5Idle = 300;
            o.w5IdleHoldMs = 1000;
            o.xaddRequests = 20000;
        } else {
            fprintf(stderr, "unknown option %s (see --help)\n", a.c_str());
            return false;
        }
    }
    if (o.bytes < 32 || o.w3Chunks < 2 || o.w1Sessions < 1 || o.w5Idle < 0) {
        fprintf(stderr, "invalid counts: --bytes >= 32, --w3-chunks >= 2, sessions >= 1\n");
        return false;
    }
    size_t pos = 0;
    while (pos <= list.size()) {
        const size_t comma = list.find(',', pos);
        const std::string w = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (w == "all")
            workloads.insert(workloads.end(), {"xadd", "W1", "W2", "W3", "W4", "W5-live", "W5-idle"});
        else if (w == "W5")
            workloads.insert(workloads.end(), {"W5-live", "W5-idle"});
        else if (w == "floor" || w == "xadd" || w == "W1" || w == "W2" || w == "W3" || w == "W4" || w == "W5-live" || w == "W5-idle")
            workloads.push_back(w);
        else {
            fprintf(stderr, "unknown workload %s\n", w.c_str());
            return false;
        }
        if (comma == std::string::npos)
            break;
        pos = comma + 1;
    }
    if (o.protocolProducer)
        for (const std::string &w : workloads)
            if (w != "W1" && w != "W2") {
                fprintf(stderr, "--protocol durable-http: only W1 and W2 (not %s)\n", w.c_str());
                return false;
            }
    if (o.protocol == Protocol::DurableStreams)
        for (const std::string &w : workloads)
            if (w != "W1" && w != "W2" && w != "W5-live") {
                fprintf(stderr, "--protocol durable-streams: only W1, W2 and W5-live (not %s)\n", w.c_str());
                return false;
            }
    if (!o.label.empty() && workloads.size() != 1) {
        fprintf(stderr, "--label needs exactly one workload\n");
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char **argv)
{
    Options o;
    std::vector<std::string> workloads;
    if (!parseArgs(argc, argv, o, workloads))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    raiseNoFileLimit(int64_t(o.w5Idle) + o.w5Live + 4096);
    if (o.serverPid <= 0)
        o.serverPid = pidListeningOn(o.port);
    if (o.redisPid <= 0)
        o.redisPid = pidListeningOn(o.redisPort);
    printf("agent-streams-bench: server 127.0.0.1:%d (pid %d), redis 127.0.0.1:%d (pid %d)\n", o.port, o.serverPid, o.redisPort,
           o.redisPid);
    fflush(stdout);
    std::vector<Result> results;
    for (const std::string &w : workloads) {
        // The machine may be shared: record how busy it was when the workload started.
        std::string load;
        if (FILE *f = fopen("/proc/loadavg", "r")) {
            char buf[128] = {};
            if (fgets(buf, sizeof buf, f))
                load = std::string(buf, strcspn(buf, " ")); // 1-minute average
            fclose(f);
        }
        Result r;
        if (w == "xadd")
            r = runXadd(o);
        else if (w == "floor")
            r = runFloor(o);
        else if (w == "W1")
            r = o.protocolProducer ? runProtocolSessions(o, "W1", o.w1Sessions, o.w1Chunks, o.w1Rate, o.w1RampMs)
                                   : runSessions(o, "W1", o.w1Sessions, o.w1Chunks, o.w1Rate, o.w1RampMs, false);
        else if (w == "W2")
            r = o.protocolProducer ? runProtocolSessions(o, "W2", 1, o.w2Chunks, 0, 0) : runSessions(o, "W2", 1, o.w2Chunks, 0, 0, false);
        else if (w == "W3")
            r = runResume(o);
        else if (w == "W4")
            r = runSessions(o, "W4", o.w4Sessions, o.w4Chunks, o.w4Rate, o.w1RampMs, true);
        else if (w == "W5-live")
            r = runSessions(o, "W5-live", o.w5Live, o.w5Chunks, o.w5Rate, o.w5RampMs, false);
        else if (w == "W5-idle")
            r = runIdle(o);
        if (!o.label.empty())
            r.workload = o.label;
        r.note("loadavg_1min_at_start", load);
        printResult(r);
        printJsonLine(r);
        results.push_back(r);
    }
    // Ratios to what Redis does by itself on the same machine, when both ran.
    double xaddP = 0;
    for (const auto &r : results)
        if (r.workload == "xadd")
            xaddP = r.get("xadd_pipelined_rps");
    if (xaddP > 0)
        for (const auto &r : results)
            if (r.workload == "W2")
                printf("\nW2 end-to-end chunks/s = %.3f x pipelined XADD/s of redis-benchmark\n", r.get("chunks_per_s") / xaddP);
    printSummary(results);
    return 0;
}
