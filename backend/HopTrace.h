#pragma once

#include <QByteArray>
#include <QtGlobal>

struct EntryId;

// Timestamps of sampled live chunks at each hop through the server, for the latency profile in
// docs/BENCHMARKS.md. Off unless AGENT_STREAMS_HOP_TRACE names a file: then every 8th chunk of
// the synthetic provider is followed from its due time to the send() that hands it to the
// kernel, and at exit the file gets one line per chunk and the median/p90/p99 of every hop.
// Off, each call site costs one load of a bool.
//
//   HopTrace::offer(dueNs, madeNs);               // agent: the next append is sampled
//   int slot = HopTrace::take(conversation, id);  // writer, at the append that follows
//   HopTrace::mark(slot, HopTrace::Sent);         // later hops, by slot or by (conversation, id)
namespace HopTrace {
enum Hop : int {
    Due,       // when the chunk was due (the pace schedule)
    Made,      // the agent made it (pace timer fired)
    Queued,    // the writer queued it
    Sent,      // its script call was written to the Redis socket
    Acked,     // Redis's reply to that call was parsed
    Delivered, // the hub fanned it out to a live subscriber
    Framed,    // the response framed it and handed the bytes on
    Kernel,    // send() returned for those bytes (event loop or sender thread)
    HopCount
};

extern bool g_on;
inline bool on() { return g_on; }
void init();  // reads the environment; once, at start
void dump();  // writes the file (at exit)
qint64 nowNs(); // CLOCK_MONOTONIC, the clock of every mark
void offer(qint64 dueNs, qint64 madeNs);
int take(const QByteArray &conversationId, const EntryId &id);
int find(const QByteArray &conversationId, const EntryId &id);
void mark(int slot, Hop hop); // thread-safe; the first mark of a hop wins
// The hub says which traced chunk (the last of a delivery) the subscriber it calls is handling,
// so the response that frames and sends it can mark it without knowing its conversation.
void setCurrent(int slot);
int current();
} // namespace HopTrace
