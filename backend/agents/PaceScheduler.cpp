#include "agents/PaceScheduler.h"

#include <algorithm>

PaceScheduler::PaceScheduler(QObject *parent)
    : QObject(parent)
{
    setObjectName(QStringLiteral("agentstreams.pace"));
    m_clock.start();
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &PaceScheduler::fire);
}

PaceScheduler *PaceScheduler::of(QObject *parent)
{
    if (parent) {
        if (auto *found = parent->findChild<PaceScheduler *>(QStringLiteral("agentstreams.pace"), Qt::FindDirectChildrenOnly))
            return found;
    }
    return new PaceScheduler(parent);
}

quint64 PaceScheduler::schedule(qint64 dueNs, Callback fn, void *context)
{
    const quint64 ticket = m_next++;
    m_heap.push_back({dueNs, ticket, fn, context});
    std::push_heap(m_heap.begin(), m_heap.end(), Later());
    if (m_armedFor < 0 || dueNs < m_armedFor)
        arm();
    return ticket;
}

void PaceScheduler::cancel(quint64 ticket)
{
    if (ticket != 0 && ticket < m_next)
        m_cancelled.insert(ticket); // skipped when it comes up (or dropped if it already ran)
}

void PaceScheduler::arm()
{
    while (!m_heap.empty() && m_cancelled.erase(m_heap.front().ticket)) {
        std::pop_heap(m_heap.begin(), m_heap.end(), Later());
        m_heap.pop_back();
    }
    if (m_heap.empty()) {
        m_timer.stop();
        m_armedFor = -1;
        m_cancelled.clear(); // nothing is waiting: every cancelled ticket has run or gone
        return;
    }
    m_armedFor = m_heap.front().dueNs;
    const qint64 waitNs = m_armedFor - nowNs();
    m_timer.start(waitNs <= 0 ? 0 : int((waitNs + 999'999) / 1'000'000));
}

void PaceScheduler::fire()
{
    // Everything due runs now, in due order (the timer is armed to whole milliseconds, rounded
    // up, so it does not fire before the first item is due).
    const qint64 now = nowNs();
    m_armedFor = -1;
    while (!m_heap.empty() && m_heap.front().dueNs <= now) {
        std::pop_heap(m_heap.begin(), m_heap.end(), Later());
        const Item item = m_heap.back();
        m_heap.pop_back();
        if (!m_cancelled.empty() && m_cancelled.erase(item.ticket))
            continue;
        item.fn(item.context, now); // may schedule or cancel others
    }
    arm();
}
