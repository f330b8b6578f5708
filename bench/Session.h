#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bench {

// An SSE entry id "<ms>-<seq>", compared numerically.
struct EntryId
{
    uint64_t ms = 0;
    uint64_t seq = 0;
    bool valid = false;
    static EntryId parse(const std::string &text);
    bool operator<=(const EntryId &o) const { return ms != o.ms ? ms < o.ms : seq <= o.seq; }
};

// One logical reader of one conversation, across reconnects: checks what arrives against the
// synthetic provider's contract (chunk k = "<k> <due µs> x..x\n", k = 0..chunks-1, then done).
struct Session
{
    std::string convId;
    int64_t chunks = 0;
    std::vector<uint8_t> seen; // per k: received (after de-dup by id)
    EntryId last;              // newest id received: the resume cursor
    std::string lastIdText;
    std::vector<std::string> idOfK; // filled only when keepIds (W3 needs cursors)
    bool keepIds = false;

    int64_t delivered = 0;  // distinct k received
    int64_t rawDup = 0;     // a k received again, whatever its id
    int64_t dup = 0;        // a k received again under a NEW id (de-dup by id cannot remove it)
    int64_t outOfOrder = 0; // a k below the highest k already received
    int64_t maxK = -1;
    int64_t lastNewK = -1;  // the k of the latest counted chunk
    int64_t badChunks = 0;  // unparsable data or k out of range
    bool done = false;
    bool error = false;
    bool closed = false;    // the final connection ended (done or not)
    std::string errorText;
    int reconnects = 0;
    int64_t dropAtK = -1;   // W4: drop the connection after this k
    int64_t startMono = 0, doneMono = 0, firstChunkMono = 0, lastChunkMono = 0;

    void init(int64_t nChunks, bool ids = false);
    // An SSE message event; returns the latency in µs, or -1 when not counted (duplicate).
    int64_t onMessage(const std::string &id, const std::string &firstDataLine, int64_t recvWallUs, int64_t recvMonoUs);
    void onId(const std::string &id); // any event with an id moves the cursor
    int64_t lost() const { return chunks - delivered; }
};

// Latency samples (µs) with percentiles.
struct Latencies
{
    std::vector<int64_t> us;
    std::vector<int64_t> atMono; // when each sample arrived (monotonic µs), for the timeline
    void add(int64_t v, int64_t recvMonoUs)
    {
        us.push_back(v);
        atMono.push_back(recvMonoUs);
    }
    // Per-bucket count, p50, p99 and max since t0Mono, as text (one line per bucket).
    std::string timeline(int64_t t0Mono, int64_t bucketUs) const;
    double percentileMs(double p); // sorts
    double maxMs();
};

} // namespace bench
