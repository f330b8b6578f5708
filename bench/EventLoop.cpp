#include "EventLoop.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace bench {

static int64_t clockUs(clockid_t id)
{
    timespec ts;
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t monoUs() { return clockUs(CLOCK_MONOTONIC); }
int64_t wallUs() { return clockUs(CLOCK_REALTIME); }

EventLoop::EventLoop()
    : m_ep(epoll_create1(EPOLL_CLOEXEC))
{
    if (m_ep < 0)
        throw std::runtime_error("epoll_create1 failed");
}

EventLoop::~EventLoop() { close(m_ep); }

void EventLoop::add(int fd, uint32_t events, Handler *h)
{
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    epoll_ctl(m_ep, EPOLL_CTL_ADD, fd, &ev);
}

void EventLoop::mod(int fd, uint32_t events, Handler *h)
{
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    epoll_ctl(m_ep, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::del(int fd) { epoll_ctl(m_ep, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::after(int64_t us, std::function<void()> fn) { m_timers.push(Timer{monoUs() + us, m_seq++, std::move(fn)}); }

bool EventLoop::run(const std::function<bool()> &done, int64_t deadline, const std::function<void()> &tick, int64_t tickUs)
{
    std::vector<epoll_event> events(1024);
    int64_t nextTick = monoUs() + tickUs;
    while (!done()) {
        int64_t now = monoUs();
        if (now >= deadline)
            return false;
        while (!m_timers.empty() && m_timers.top().at <= now) {
            auto fn = m_timers.top().fn;
            m_timers.pop();
            fn();
        }
        if (tick && now >= nextTick) {
            tick();
            nextTick = now + tickUs;
        }
        int64_t wake = std::min(deadline, tick ? nextTick : deadline);
        if (!m_timers.empty())
            wake = std::min(wake, m_timers.top().at);
        const int timeoutMs = int(std::clamp<int64_t>((wake - now + 999) / 1000, 0, 100));
        const int n = epoll_wait(m_ep, events.data(), int(events.size()), timeoutMs);
        for (int i = 0; i < n; ++i)
            static_cast<Handler *>(events[size_t(i)].data.ptr)->onEvents(events[size_t(i)].events);
    }
    return true;
}

} // namespace bench
