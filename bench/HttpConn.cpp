#include "HttpConn.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace bench {

int connectLoopback(int port)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) < 0 && errno != EINPROGRESS) {
        const int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

void closeAbort(int fd)
{
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

std::string headerValue(const std::string &head, const std::string &name)
{
    size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string::npos) {
        pos += 2;
        if (head.size() - pos > name.size() && strncasecmp(head.c_str() + pos, name.c_str(), name.size()) == 0
            && head[pos + name.size()] == ':') {
            size_t b = pos + name.size() + 1;
            while (b < head.size() && head[b] == ' ')
                ++b;
            const size_t e = head.find("\r\n", b);
            return head.substr(b, e == std::string::npos ? std::string::npos : e - b);
        }
    }
    return {};
}

std::string httpRequest(const std::string &method, const std::string &path, const std::string &accept, const std::string &body,
                        const std::string &extraHeaders, bool keepAlive)
{
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: " + accept + "\r\n";
    if (!keepAlive)
        r += "Connection: close\r\n";
    r += extraHeaders;
    if (!body.empty() || method == "POST")
        r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    r += "\r\n";
    r += body;
    return r;
}

static int parseStatus(const std::string &head)
{
    const size_t sp = head.find(' ');
    return sp == std::string::npos ? 0 : atoi(head.c_str() + sp + 1);
}

// ---------------------------------------------------------------------------------------------

StreamConn::StreamConn(EventLoop &loop, Session &s, Latencies &lat, std::string request, Hooks hooks, Protocol protocol)
    : session(s)
    , m_loop(loop)
    , m_lat(lat)
    , m_out(std::move(request))
    , m_hooks(std::move(hooks))
    , m_protocol(protocol)
{
}

StreamConn::~StreamConn()
{
    if (m_fd >= 0) {
        m_loop.del(m_fd);
        closeAbort(m_fd);
    }
}

bool StreamConn::start(int port)
{
    startMono = monoUs();
    m_fd = connectLoopback(port);
    if (m_fd < 0) {
        finish(std::string("connect: ") + strerror(errno));
        return false;
    }
    m_loop.add(m_fd, EPOLLOUT | EPOLLIN, this);
    return true;
}

void StreamConn::abort()
{
    if (closed)
        return;
    finish("");
}

void StreamConn::finish(const std::string &error)
{
    if (closed)
        return;
    closed = true;
    if (m_fd >= 0) {
        m_loop.del(m_fd);
        closeAbort(m_fd);
        m_fd = -1;
    }
    if (!error.empty() && !session.done) {
        session.error = true;
        if (session.errorText.empty())
            session.errorText = error;
    }
    if (m_hooks.onClosed)
        m_hooks.onClosed(*this);
}

void StreamConn::onEvents(uint32_t events)
{
    if (closed)
        return;
    if (events & (EPOLLOUT | EPOLLERR)) {
        if (m_outOff < m_out.size()) {
            const ssize_t n = send(m_fd, m_out.data() + m_outOff, m_out.size() - m_outOff, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN) {
                finish(std::string("send: ") + strerror(errno));
                return;
            }
            if (n > 0)
                m_outOff += size_t(n);
        }
        if (m_outOff >= m_out.size()) {
            m_out.clear();
            m_out.shrink_to_fit();
            m_loop.mod(m_fd, EPOLLIN, this);
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        readSome();
}

void StreamConn::readSome()
{
    char buf[65536];
    for (int rounds = 0; rounds < 16 && !closed; ++rounds) {
        const ssize_t n = recv(m_fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            finish(std::string("recv: ") + strerror(errno));
            return;
        }
        if (n == 0) {
            if (!m_headDone)
                finish("connection closed before the response head");
            else
                finish(session.done ? "" : "stream closed before done");
            return;
        }
        const int64_t nowWall = wallUs();
        const int64_t nowMono = monoUs();
        if (!m_headDone) {
            m_in.append(buf, size_t(n));
            const size_t e = m_in.find("\r\n\r\n");
            if (e == std::string::npos)
                continue;
            head = m_in.substr(0, e + 2);
            m_inOff = e + 4;
            m_headDone = true;
            status = parseStatus(head);
            if (m_hooks.onHead)
                m_hooks.onHead(*this);
            if (closed)
                return;
            if (status != 200) {
                finish("HTTP status " + std::to_string(status));
                return;
            }
            if (strcasestr(headerValue(head, "Transfer-Encoding").c_str(), "chunked")) {
                m_chunked = true;
                m_raw = m_in.substr(m_inOff);
                m_in.clear();
                m_inOff = 0;
            }
        } else if (m_chunked) {
            m_raw.append(buf, size_t(n));
        } else {
            m_in.append(buf, size_t(n));
        }
        if (m_chunked && !dechunk()) {
            finish("bad chunked encoding");
            return;
        }
        parseBody(nowWall, nowMono);
        if (m_bodyEnded && !closed) {
            finish(session.done ? "" : "response ended before done");
            return;
        }
        if (size_t(n) < sizeof buf)
            return;
    }
}

bool StreamConn::dechunk()
{
    size_t pos = 0;
    while (pos < m_raw.size() && !m_bodyEnded) {
        if (m_chunkState == ChunkState::Data) {
            const size_t take = std::min(m_chunkLeft, m_raw.size() - pos);
            m_in.append(m_raw, pos, take);
            pos += take;
            m_chunkLeft -= take;
            if (m_chunkLeft == 0)
                m_chunkState = ChunkState::DataEnd;
            continue;
        }
        const size_t nl = m_raw.find('\n', pos);
        if (nl == std::string::npos)
            break;
        size_t len = nl - pos;
        if (len > 0 && m_raw[pos + len - 1] == '\r')
            --len;
        const char *p = m_raw.data() + pos;
        pos = nl + 1;
        switch (m_chunkState) {
        case ChunkState::DataEnd: // the CRLF after a chunk's data
            if (len != 0)
                return false;
            m_chunkState = ChunkState::Size;
            break;
        case ChunkState::Size: { // "<hex>[;ext]"
            char *end = nullptr;
            const unsigned long long size = strtoull(p, &end, 16);
            if (end == p)
                return false;
            if (size == 0) {
                m_chunkState = ChunkState::Trailer;
            } else {
                m_chunkLeft = size_t(size);
                m_chunkState = ChunkState::Data;
            }
            break;
        }
        case ChunkState::Trailer: // trailer fields up to an empty line
            if (len == 0)
                m_bodyEnded = true;
            break;
        case ChunkState::Data:
            break;
        }
    }
    m_raw.erase(0, pos);
    return true;
}

void StreamConn::parseBody(int64_t nowWall, int64_t nowMono)
{
    while (!closed) {
        const void *nl = memchr(m_in.data() + m_inOff, '\n', m_in.size() - m_inOff);
        if (!nl)
            break;
        const size_t end = size_t(static_cast<const char *>(nl) - m_in.data());
        size_t len = end - m_inOff;
        if (len > 0 && m_in[m_inOff + len - 1] == '\r')
            --len;
        const size_t at = m_inOff;
        m_inOff = end + 1;
        line(m_in.data() + at, len, nowWall, nowMono);
    }
    if (m_inOff > 0 && !closed) {
        m_in.erase(0, m_inOff);
        m_inOff = 0;
    }
}

void StreamConn::line(const char *p, size_t n, int64_t nowWall, int64_t nowMono)
{
    auto field = [&](const char *name, size_t len) -> const char * {
        if (n >= len && memcmp(p, name, len) == 0)
            return p + len + (n > len && p[len] == ' ' ? 1 : 0);
        return nullptr;
    };
    if (n == 0) { // dispatch
        if (m_protocol == Protocol::DurableStreams && (!m_type.empty() || m_dataLines > 0)) {
            // Durable Streams SSE live mode: "data" = one appended message (a chunk), "control" =
            // {"streamNextOffset":…,"streamCursor":…,"upToDate":true} or, at the end of a closed
            // stream, {"streamNextOffset":…,"streamClosed":true}. Events carry no id: field.
            if (m_type == "data") {
                const int64_t lat = session.onMessage(m_id, m_data, nowWall, nowMono);
                if (lat != -1) {
                    m_lat.add(lat, nowMono);
                    if (m_hooks.onChunk)
                        m_hooks.onChunk(*this, session.lastNewK);
                }
            } else if (m_type == "control") {
                if (m_data.find("\"streamClosed\":true") != std::string::npos) {
                    session.done = true;
                    session.doneMono = nowMono;
                }
            }
        } else if (m_protocol == Protocol::Responses && !m_type.empty()) {
            responsesEvent(nowWall, nowMono);
        } else if (!m_type.empty() || m_dataLines > 0) {
            const std::string type = m_type.empty() ? std::string("message") : m_type;
            if (type == "message") {
                const int64_t lat = session.onMessage(m_id, m_data, nowWall, nowMono);
                if (lat != -1) {
                    m_lat.add(lat, nowMono);
                    if (m_hooks.onChunk)
                        m_hooks.onChunk(*this, session.lastNewK);
                }
            } else {
                if (!m_id.empty())
                    session.onId(m_id);
                if (type == "done") {
                    session.done = true;
                    session.doneMono = nowMono;
                } else if (type == "error") {
                    session.error = true;
                    session.errorText = "error event: " + m_data;
                }
            }
        }
        m_id.clear();
        m_type.clear();
        m_data.clear();
        m_dataLines = 0;
        return;
    }
    if (const char *v = field("id:", 3))
        m_id.assign(v, size_t(p + n - v));
    else if (const char *v2 = field("event:", 6))
        m_type.assign(v2, size_t(p + n - v2));
    else if (const char *v3 = field("data:", 5)) {
        if (m_dataLines++ == 0)
            m_data.assign(v3, size_t(p + n - v3));
    }
    // retry:, comments: ignored
}

// OpenAI Responses events: the chunk is the delta's JSON string (the synthetic chunk's header,
// "<k> <due µs> ", needs no unescaping), the id its sequence_number.
void StreamConn::responsesEvent(int64_t nowWall, int64_t nowMono)
{
    if (m_type == "response.output_text.delta") {
        const size_t seq = m_data.find("\"sequence_number\":");
        const size_t delta = m_data.find("\"delta\":\"");
        if (seq == std::string::npos || delta == std::string::npos) {
            ++session.badChunks;
            return;
        }
        const std::string id = std::to_string(strtoll(m_data.c_str() + seq + 18, nullptr, 10));
        const int64_t lat = session.onMessage(id, m_data.substr(delta + 9), nowWall, nowMono);
        if (lat != -1) {
            m_lat.add(lat, nowMono);
            if (m_hooks.onChunk)
                m_hooks.onChunk(*this, session.lastNewK);
        }
    } else if (m_type == "response.completed") {
        session.done = true;
        session.doneMono = nowMono;
    } else if (m_type == "response.failed" || m_type == "error") {
        session.error = true;
        session.errorText = "error event: " + m_data;
    }
}

// ---------------------------------------------------------------------------------------------

class RequestPool::Worker : public EventLoop::Handler
{
public:
    Worker(RequestPool &pool)
        : m_pool(pool)
    {
    }
    ~Worker() override { shut(); }
    bool busy = false;
    bool dead = false;

    void send(Job job)
    {
        m_job = std::move(job);
        busy = true;
        m_in.clear();
        m_out = m_job.request;
        m_outOff = 0;
        if (m_fd < 0) {
            m_fd = connectLoopback(m_pool.m_port);
            if (m_fd < 0) { // retried a little later, not recursively
                m_pool.m_loop.after(10000, [this] { fail(); });
                return;
            }
            m_pool.m_loop.add(m_fd, EPOLLOUT | EPOLLIN, this);
        } else {
            m_pool.m_loop.mod(m_fd, EPOLLOUT | EPOLLIN, this);
        }
    }

    void onEvents(uint32_t events) override
    {
        if (dead || m_fd < 0)
            return;
        if ((events & (EPOLLOUT | EPOLLERR)) && m_outOff < m_out.size()) {
            const ssize_t n = ::send(m_fd, m_out.data() + m_outOff, m_out.size() - m_outOff, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN) {
                fail();
                return;
            }
            if (n > 0)
                m_outOff += size_t(n);
            if (m_outOff >= m_out.size())
                m_pool.m_loop.mod(m_fd, EPOLLIN, this);
        }
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
            return;
        char buf[16384];
        const ssize_t n = recv(m_fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            fail();
            return;
        }
        if (!busy)
            return; // nothing asked: ignore
        m_in.append(buf, size_t(n));
        const size_t e = m_in.find("\r\n\r\n");
        if (e == std::string::npos)
            return;
        const std::string head = m_in.substr(0, e + 2);
        const size_t length = size_t(atol(headerValue(head, "Content-Length").c_str()));
        if (m_in.size() < e + 4 + length)
            return;
        const std::string body = m_in.substr(e + 4, length);
        const bool closeAfter = strcasecmp(headerValue(head, "Connection").c_str(), "close") == 0;
        busy = false;
        Job job = std::move(m_job);
        if (closeAfter)
            shut();
        if (job.cb)
            job.cb(parseStatus(head), head, body);
        m_pool.pump();
    }

    void shut()
    {
        if (m_fd >= 0) {
            m_pool.m_loop.del(m_fd);
            closeAbort(m_fd);
            m_fd = -1;
        }
    }

private:
    void fail()
    {
        shut();
        const bool wasBusy = busy;
        busy = false;
        if (wasBusy) {
            if (++m_job.attempts < 3) {
                m_pool.m_queue.push_front(std::move(m_job));
            } else {
                ++m_pool.failures;
                if (m_job.cb)
                    m_job.cb(0, {}, {});
            }
        }
        m_pool.pump();
    }

    RequestPool &m_pool;
    Job m_job;
    int m_fd = -1;
    std::string m_out, m_in;
    size_t m_outOff = 0;
};

RequestPool::RequestPool(EventLoop &loop, int port, int connections)
    : m_loop(loop)
    , m_port(port)
{
    for (int i = 0; i < connections; ++i)
        m_workers.push_back(std::make_unique<Worker>(*this));
}

RequestPool::~RequestPool() = default;

void RequestPool::submit(std::string request, Callback cb)
{
    m_queue.push_back(Job{std::move(request), std::move(cb), 0});
    pump();
}

void RequestPool::pump()
{
    for (auto &w : m_workers) {
        if (m_queue.empty())
            return;
        if (!w->busy) {
            Job j = std::move(m_queue.front());
            m_queue.pop_front();
            w->send(std::move(j));
        }
    }
}

bool RequestPool::idle() const
{
    if (!m_queue.empty())
        return false;
    for (const auto &w : m_workers)
        if (w->busy)
            return false;
    return true;
}

} // namespace bench
