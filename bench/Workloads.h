#pragma once

#include "HttpConn.h"
#include "Report.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct Options
{
    int port = 7071;           // the server, always on 127.0.0.1
    int redisPort = 6379;      // its Redis, for INFO and redis-benchmark
    int serverPid = -1;        // found from the listening port when not given
    int redisPid = -1;
    std::vector<int> moreRedisPids; // the other nodes of a cluster: their CPU is added to redis_cpu_s
    int64_t bytes = 40;        // bytes per chunk
    uint32_t seed = 1;
    int maxConnecting = 64;    // connections waiting for their response head at once
    double timeoutScale = 1.0; // scales every workload's deadline
    // How sessions start and what the SSE means. DurableStreams (the Durable Streams peer):
    // POST /api/agent/create answers 201 + Location: <stream path>, then the session reads
    // GET <path>?offset=-1&live=sse (W1, W2, W5-live only).
    Protocol protocol = Protocol::AgentStreams;
    // --protocol durable-http: the bench itself appends over the Durable Streams protocol
    // (PUT, POST per chunk, close) and reads with its SSE live mode (ProtocolProducer.h).
    bool protocolProducer = false;
    std::string label;         // names the result instead of the workload (one workload only)
    std::string timelineDir;   // when set: <dir>/<workload>-timeline.txt, latency per 250 ms of the run
    // W1
    int w1Sessions = 200;
    int64_t w1Chunks = 200;
    double w1Rate = 20;
    int w1RampMs = 1000;
    // W2
    int64_t w2Chunks = 20000;
    // W3
    int64_t w3Chunks = 10000;
    int w3Iterations = 5;
    // W4
    int w4Sessions = 50;
    int64_t w4Chunks = 200;
    double w4Rate = 20;
    int w4MaxReconnectDelayMs = 500;
    // W5
    int w5Live = 2000;
    int64_t w5Chunks = 200;
    double w5Rate = 20;
    int w5RampMs = 2000;
    int w5Idle = 10000;
    int w5IdleHoldMs = 3000;
    // redis-benchmark
    int xaddRequests = 200000;
};

Result runSessions(const Options &o, const std::string &name, int sessions, int64_t chunks, double rate, int rampMs, bool drop);
Result runResume(const Options &o);
Result runIdle(const Options &o);
Result runXadd(const Options &o);
// The physical floor of a live chunk on this machine: a Redis PING round trip, and a loopback
// TCP message to a thread that sleeps in recv() (half a ping-pong), medians and p99 of 2,000.
Result runFloor(const Options &o);

} // namespace bench
