#include "http/SocketSender.h"

#include "HopTrace.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

struct SocketSender::State
{
    int fd = -1; // our dup(); closed by the sender thread (or by post() once stopped)
    std::atomic<int> *attached = nullptr; // the sender's count of open dup()s
    std::atomic<qint64> pending{0};
    std::atomic<bool> broken{false};
    // Sender thread only:
    std::deque<QByteArray> backlog;
    qsizetype offset = 0; // bytes of backlog.front() already sent
    bool closing = false; // close once the backlog is out
    bool polling = false; // waits for POLLOUT
};

struct SocketSender::Core
{
    struct Item
    {
        std::shared_ptr<State> state;
        Op op;
        QByteArray bytes;
        int trace = -1;
        qsizetype skip = 0; // bytes at the front already sent
    };
    std::mutex mutex;
    std::vector<Item> queue;
    bool stopping = false;
    bool stopped = false;
    std::atomic<bool> sleeping{false};
    std::atomic<int> attached{0}; // dup()ed descriptors not closed yet
    int maxAttached = 0;
    int wakeFd = -1;
    std::thread thread;
};

namespace {
// Forgets the backlog, and its bytes from pending (which the event loop may be adding to).
void dropBacklog(SocketSender::State &s)
{
    qint64 bytes = -s.offset;
    for (const QByteArray &b : s.backlog)
        bytes += b.size();
    s.backlog.clear();
    s.offset = 0;
    s.pending.fetch_sub(bytes, std::memory_order_relaxed);
}

// Sends as much of the backlog as the kernel takes now. Returns false when it would block.
bool drain(SocketSender::State &s)
{
    while (!s.backlog.empty() && s.fd >= 0) {
        iovec iov[32];
        int n = 0;
        for (auto it = s.backlog.begin(); it != s.backlog.end() && n < 32; ++it, ++n) {
            const qsizetype skip = n == 0 ? s.offset : 0;
            iov[n].iov_base = const_cast<char *>(it->constData() + skip);
            iov[n].iov_len = size_t(it->size() - skip);
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = size_t(n);
        const ssize_t sent = ::sendmsg(s.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return false;
            s.broken.store(true, std::memory_order_relaxed); // reset, broken pipe: the client is gone
            dropBacklog(s);
            break;
        }
        s.pending.fetch_sub(sent, std::memory_order_relaxed);
        qsizetype left = sent;
        while (left > 0) {
            const qsizetype rest = s.backlog.front().size() - s.offset;
            if (left >= rest) {
                left -= rest;
                s.backlog.pop_front();
                s.offset = 0;
            } else {
                s.offset += left;
                left = 0;
            }
        }
    }
    if (s.backlog.empty() && s.closing && s.fd >= 0) {
        ::close(s.fd);
        s.fd = -1;
        s.attached->fetch_sub(1, std::memory_order_relaxed);
    }
    return true;
}
} // namespace

SocketSender::Channel::Channel(std::shared_ptr<SocketSender> sender, std::shared_ptr<State> state)
    : m_sender(std::move(sender))
    , m_state(std::move(state))
{
}

SocketSender::Channel::~Channel()
{
    close();
}

void SocketSender::Channel::write(const QByteArray &bytes, int trace, qsizetype skip)
{
    if (m_closed || skip >= bytes.size())
        return;
    m_state->pending.fetch_add(bytes.size() - skip, std::memory_order_relaxed);
    m_sender->post(m_state, Op::Write, bytes, trace, skip);
}

void SocketSender::Channel::close()
{
    if (m_closed)
        return;
    m_closed = true;
    m_sender->post(m_state, Op::Close);
}

void SocketSender::Channel::discard()
{
    if (m_closed)
        return;
    m_closed = true;
    m_sender->post(m_state, Op::Discard);
}

qint64 SocketSender::Channel::pending() const
{
    return m_state->pending.load(std::memory_order_relaxed);
}

bool SocketSender::Channel::broken() const
{
    return m_state->broken.load(std::memory_order_relaxed);
}

SocketSender::SocketSender()
    : d(std::make_unique<Core>())
{
}

std::shared_ptr<SocketSender> SocketSender::create()
{
    std::shared_ptr<SocketSender> sender(new SocketSender);
    sender->d->wakeFd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    rlimit limit{};
    const rlim_t soft = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
    sender->d->maxAttached = soft == RLIM_INFINITY ? 1 << 20 : int(std::max<rlim_t>(soft, 512) - 256) / 4;
    sender->d->thread = std::thread([raw = sender.get()] {
        ::pthread_setname_np(::pthread_self(), "socket-sender"); // for top -H, perf --comm
        raw->run();
    });
    return sender;
}

SocketSender::~SocketSender()
{
    stop();
    if (d->wakeFd >= 0)
        ::close(d->wakeFd);
}

std::unique_ptr<SocketSender::Channel> SocketSender::attach(int fd)
{
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        if (d->stopping || d->wakeFd < 0)
            return nullptr;
    }
    // Every channel costs a second descriptor: use them while they are plentiful, and leave
    // the rest of the process's limit to sockets (past it, streams write from the event loop).
    if (d->attached.load(std::memory_order_relaxed) >= d->maxAttached)
        return nullptr;
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return nullptr; // out of descriptors: the caller writes through Qt instead
    d->attached.fetch_add(1, std::memory_order_relaxed);
    auto state = std::make_shared<State>();
    state->fd = copy;
    state->attached = &d->attached;
    return std::make_unique<Channel>(shared_from_this(), std::move(state));
}

void SocketSender::post(const std::shared_ptr<State> &state, Op op, const QByteArray &bytes, int trace, qsizetype skip)
{
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        if (!d->stopped) {
            d->queue.push_back({state, op, bytes, trace, skip});
        } else {
            // The thread has ended: nothing can be sent any more.
            state->pending.store(0, std::memory_order_relaxed);
            if (op != Op::Write && state->fd >= 0) {
                ::close(state->fd);
                state->fd = -1;
                d->attached.fetch_sub(1, std::memory_order_relaxed);
            }
            return;
        }
    }
    if (d->sleeping.exchange(false)) {
        const quint64 one = 1;
        [[maybe_unused]] const ssize_t n = ::write(d->wakeFd, &one, sizeof one);
    }
}

void SocketSender::stop()
{
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        if (d->stopping)
            return;
        d->stopping = true;
    }
    const quint64 one = 1;
    [[maybe_unused]] const ssize_t n = ::write(d->wakeFd, &one, sizeof one);
    if (d->thread.joinable())
        d->thread.join();
}

void SocketSender::run()
{
    std::vector<Core::Item> work;
    std::vector<std::shared_ptr<State>> waiting; // backlog the kernel did not take yet
    std::vector<pollfd> fds;
    for (;;) {
        bool stopping = false;
        {
            std::lock_guard<std::mutex> lock(d->mutex);
            work.swap(d->queue);
            stopping = d->stopping;
            if (work.empty() && !stopping)
                d->sleeping.store(true);
        }
        if (work.empty() && !stopping) {
            // Nothing queued: sleep until woken or until a waiting socket can take more.
            fds.assign(1, pollfd{d->wakeFd, POLLIN, 0});
            for (const auto &s : waiting)
                fds.push_back(pollfd{s->fd, POLLOUT, 0});
            const int ready = ::poll(fds.data(), nfds_t(fds.size()), -1);
            d->sleeping.store(false);
            if (ready > 0 && (fds[0].revents & POLLIN)) {
                quint64 value;
                [[maybe_unused]] const ssize_t n = ::read(d->wakeFd, &value, sizeof value);
            }
        }
        for (Core::Item &item : work) {
            State &s = *item.state;
            switch (item.op) {
            case Op::Write:
                if (s.fd < 0 || s.broken.load(std::memory_order_relaxed)) {
                    s.pending.fetch_sub(item.bytes.size() - item.skip, std::memory_order_relaxed);
                } else if (s.backlog.empty()) { // offset: the sent part of the front item
                    s.backlog.push_back(std::move(item.bytes));
                    s.offset = item.skip;
                } else {
                    if (item.skip > 0) // behind other bytes (not how StreamResponse writes): drop the sent part
                        item.bytes.remove(0, item.skip);
                    s.backlog.push_back(std::move(item.bytes));
                }
                break;
            case Op::Discard:
                dropBacklog(s);
                s.closing = true;
                break;
            case Op::Close:
                s.closing = true;
                break;
            }
            if (!s.polling && !drain(s)) {
                s.polling = true;
                waiting.push_back(item.state);
            }
            if (item.trace >= 0 && s.backlog.empty())
                HopTrace::mark(item.trace, HopTrace::Kernel);
        }
        work.clear();
        // Sockets that were full: try again (drain() is cheap when the kernel still says no).
        for (auto &s : waiting)
            if (drain(*s))
                s->polling = false;
        waiting.erase(std::remove_if(waiting.begin(), waiting.end(), [](const auto &s) { return !s->polling; }), waiting.end());
        if (stopping) {
            std::lock_guard<std::mutex> lock(d->mutex);
            if (!d->queue.empty())
                continue; // take what was queued before the stop
            for (auto &s : waiting) {
                if (s->fd >= 0) {
                    ::close(s->fd);
                    d->attached.fetch_sub(1, std::memory_order_relaxed);
                }
                s->fd = -1;
                s->pending.store(0, std::memory_order_relaxed);
            }
            d->stopped = true;
            return;
        }
    }
}
