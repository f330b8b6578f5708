#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QTimer>
#include <functional>
#include <map>

// One timer for every paced agent that shares a parent: thousands of agents re-arming their own
// timers (Qt keeps timers in a sorted list) cost more than the agents themselves.
//
//   auto *s = PaceScheduler::of(parent);          // found or created as a child of parent
//   quint64 t = s->schedule(s->nowNs() + 50'000'000, [] { ... });
//   s->cancel(t);
class PaceScheduler : public QObject
{
    Q_OBJECT
public:
    static PaceScheduler *of(QObject *parent);
    qint64 nowNs() const { return m_clock.nsecsElapsed(); }
    quint64 schedule(qint64 dueNs, std::function<void()> fn);
    void cancel(quint64 ticket);

private:
    explicit PaceScheduler(QObject *parent);
    void fire();
    void arm();

    QElapsedTimer m_clock;
    QTimer m_timer;
    std::multimap<qint64, std::pair<quint64, std::function<void()>>> m_queue;
    QHash<quint64, std::multimap<qint64, std::pair<quint64, std::function<void()>>>::iterator> m_tickets;
    quint64 m_next = 1;
};
