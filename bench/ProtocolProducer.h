#pragma once

#include "Workloads.h"

namespace bench {

// W1 / W2 over the Durable Streams protocol itself, the same for any server that speaks it
// (ours at /v1/stream, the reference @durable-streams/server peer): the bench is the producer
// AND the reader. Per session: PUT /v1/stream/<run>-<i> (text/plain), a reader on
// GET ?offset=-1&live=sse, then chunk k (the synthetic format "<k> <due µs> xx..\n") POSTed at
// start + k / rate (rate 0: each as soon as the previous is acknowledged; one append in flight
// per stream, so the order holds), then a close-only POST (Stream-Closed: true). Latency =
// arrival at the reader - the chunk's due time: the producer's round trips count, as they do
// for a client of the protocol.
Result runProtocolSessions(const Options &o, const std::string &name, int sessions, int64_t chunks, double rate, int rampMs);

} // namespace bench
