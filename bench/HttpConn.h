#pragma once

#include "EventLoop.h"
#include "Session.h"

#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace bench {

// Opens a non-blocking TCP connection to 127.0.0.1:port (the bench never targets anything
// else). Returns the fd or -1 (errno set).
int connectLoopback(int port);
// Closes with RST (SO_LINGER 0): no TIME_WAIT left on the client side, like a dropped client.
void closeAbort(int fd);
// "Header-Name: value" of a response head, case-insensitive; empty when absent.
std::string headerValue(const std::string &head, const std::string &name);
std::string httpRequest(const std::string &method, const std::string &path, const std::string &accept,
                        const std::string &body, const std::string &extraHeaders = {}, bool keepAlive = false);

// What the SSE events of a stream mean.
enum class Protocol {
    AgentStreams,   // ours (and the resumable-stream peer): "message" events = chunks, "done" ends
    DurableStreams, // the Durable Streams protocol's SSE live mode: "data" events = chunks,
                    // "control" events carry offsets; {"streamClosed":true} ends the stream
    Responses,      // OpenAI Responses (/v1/responses): response.output_text.delta events = chunks
                    // (their sequence_number is the id), response.completed ends the stream
};

// One streaming HTTP response (SSE) read into a Session. Our server ends streams with
// Connection: close, so the body runs to EOF; a chunked body (the Durable Streams server's) is
// decoded and ends at its last chunk.
class StreamConn : public EventLoop::Handler
{
public:
    struct Hooks
    {
        std::function<void(StreamConn &)> onHead;             // status and headers known
        std::function<void(StreamConn &, int64_t k)> onChunk; // after a new chunk was counted
        std::function<void(StreamConn &)> onClosed;           // EOF, error or abort(); once
    };
    StreamConn(EventLoop &loop, Session &session, Latencies &lat, std::string request, Hooks hooks,
               Protocol protocol = Protocol::AgentStreams);
    ~StreamConn() override;

    bool start(int port);
    void abort(); // drop the client now (RST); onClosed runs
    void onEvents(uint32_t events) override;

    Session &session;
    int status = 0;
    std::string head;
    bool closed = false;
    int64_t startMono = 0;

private:
    void readSome();
    void parseBody(int64_t nowWall, int64_t nowMono);
    void line(const char *p, size_t n, int64_t nowWall, int64_t nowMono);
    void responsesEvent(int64_t nowWall, int64_t nowMono);
    bool dechunk(); // m_raw -> m_in; false on a framing error
    void finish(const std::string &error);

    EventLoop &m_loop;
    Latencies &m_lat;
    std::string m_out;
    size_t m_outOff = 0;
    std::string m_in;
    size_t m_inOff = 0;
    bool m_headDone = false;
    int m_fd = -1;
    Hooks m_hooks;
    Protocol m_protocol;
    // Transfer-Encoding: chunked
    bool m_chunked = false;
    bool m_bodyEnded = false; // the last chunk (size 0) and its trailer were read
    enum class ChunkState { Size, Data, DataEnd, Trailer } m_chunkState = ChunkState::Size;
    size_t m_chunkLeft = 0;
    std::string m_raw; // received, not yet de-chunked
    // the SSE event being read
    std::string m_id, m_type, m_data;
    int m_dataLines = 0;
};

// A few keep-alive connections that run short request/response exchanges (background
// creates, cancels) one after the other; responses carry Content-Length.
class RequestPool
{
public:
    using Callback = std::function<void(int status, const std::string &head, const std::string &body)>;
    RequestPool(EventLoop &loop, int port, int connections);
    ~RequestPool();
    void submit(std::string request, Callback cb);
    bool idle() const;
    int64_t failures = 0;

private:
    struct Job
    {
        std::string request;
        Callback cb;
        int attempts = 0;
    };
    class Worker;
    void pump();
    friend class Worker;
    EventLoop &m_loop;
    int m_port;
    std::deque<Job> m_queue;
    std::vector<std::unique_ptr<Worker>> m_workers;
};

} // namespace bench
