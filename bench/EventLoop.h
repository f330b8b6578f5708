#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace bench {

int64_t monoUs();   // CLOCK_MONOTONIC: schedules and durations
int64_t wallUs();   // CLOCK_REALTIME: compared with the due stamps the server writes in chunks

// A level-triggered epoll loop with one-shot timers. Handlers are NOT owned by the loop; an
// owner that closes a handler's fd calls del() first and keeps the object alive until the loop
// stops running (events of the same epoll batch may still name it).
class EventLoop
{
public:
    struct Handler
    {
        virtual ~Handler() = default;
        virtual void onEvents(uint32_t events) = 0;
    };

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop &) = delete;
    EventLoop &operator=(const EventLoop &) = delete;

    void add(int fd, uint32_t events, Handler *h);
    void mod(int fd, uint32_t events, Handler *h);
    void del(int fd);
    void after(int64_t us, std::function<void()> fn);

    // Runs until done() holds or monoUs() passes deadline; tick() every tickUs. Returns done().
    bool run(const std::function<bool()> &done, int64_t deadline, const std::function<void()> &tick = {},
             int64_t tickUs = 100000);

private:
    struct Timer
    {
        int64_t at;
        uint64_t seq;
        std::function<void()> fn;
        bool operator>(const Timer &o) const { return at != o.at ? at > o.at : seq > o.seq; }
    };
    int m_ep = -1;
    uint64_t m_seq = 0;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> m_timers;
};

} // namespace bench
