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
//   auto *s = PaceScheduler::of(parent);          // found or created as a child of parent
//   quint64 t = s->schedule(s->nowNs() + 50'000'000, &Agent::onDue, agent); // onDue(void *, qint64 nowNs)
//   s->cancel(t);
class PaceScheduler : public QObject
{
    Q_OBJECT
public:
    static PaceScheduler *of(QObject *parent);
    qint64 nowNs() const { return m_clock.nsecsElapsed(); }
    using Callback = void (*)(void *context, qint64 nowNs);
    quint64 schedule(qint64 dueNs, Callback fn, void *context);
    void cancel(quint64 ticket);

private:
    explicit PaceScheduler(QObject *parent);
    void fire();
    void arm();

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
    QTimer m_timer;
    std::vector<Item> m_heap;                // min-heap on (dueNs, ticket)
    std::unordered_set<quint64> m_cancelled; // tickets still in the heap that must not run
    qint64 m_armedFor = -1;                  // due time the timer is set for
    quint64 m_next = 1;
};
