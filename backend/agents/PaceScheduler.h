#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <unordered_set>
#include <vector>

// One timer for every paced agent that shares a parent: thousands of agents re-arming their own
// timers (Qt keeps timers in a sorted list) cost more than the agents themselves. Due work sits
// in a binary heap of plain items (a function pointer and its context), so scheduling a chunk
// allocates nothing and moves only a few words; a callback gets the time it runs at, so paced
// work needs no clock read of its own.
//
// The timer fires AT the first due time (Linux: a timerfd armed with an absolute deadline; Qt's
// timers take whole milliseconds from the moment they are armed, which made work run 0-1 ms
// late, half a millisecond on average). Work that wants to share wake-ups puts its due times on
// the grid (onGrid): agents due in the same millisecond then run in one firing, as many firings
// a second as before, each on time.
//
//   auto *s = PaceScheduler::of(parent);          // found or created as a child of parent
//   quint64 t = s->schedule(s->nowNs() + 50'000'000, &Agent::onDue, agent); // onDue(void *, qint64 nowNs)
//   s->cancel(t);
class PaceScheduler : public QObject
{
    Q_OBJECT
public:
    static PaceScheduler *of(QObject *parent);
    ~PaceScheduler() override;
    qint64 nowNs() const { return m_clock.nsecsElapsed(); }
    static constexpr qint64 kGridNs = 1'000'000;
    // The first grid point at or after t (the scheduler's clock).
    static qint64 onGrid(qint64 t) { return (t + kGridNs - 1) / kGridNs * kGridNs; }
    using Callback = void (*)(void *context, qint64 nowNs);
    quint64 schedule(qint64 dueNs, Callback fn, void *context);
    void cancel(quint64 ticket);

private:
    explicit PaceScheduler(QObject *parent);
    void fire();
    void arm();
    void onTimerFd();

    struct Item
    {
        qint64 dueNs;
        quint64 ticket; // also the tie-break: equal due times run in scheduling order
        Callback fn;
        void *context;
    };
    struct Later
    {
        bool operator()(const Item &a, const Item &b) const { return a.dueNs > b.dueNs || (a.dueNs == b.dueNs && a.ticket > b.ticket); }
    };
    QElapsedTimer m_clock;
    qint64 m_clockBaseNs = 0; // m_clock's start on CLOCK_MONOTONIC (the timerfd's clock)
    int m_timerFd = -1;       // -1: m_timer instead
    class QSocketNotifier *m_timerFdNotifier = nullptr;
    QTimer m_timer;
    std::vector<Item> m_heap;                // min-heap on (dueNs, ticket)
    std::unordered_set<quint64> m_cancelled; // tickets still in the heap that must not run
    qint64 m_armedFor = -1;                  // due time the timer is set for
    quint64 m_next = 1;
};
