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

quint64 PaceScheduler::schedule(qint64 dueNs, std::function<void()> fn)
{
    const quint64 ticket = m_next++;
    m_heap.push_back({dueNs, ticket, std::move(fn)});
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
    // Everything due (within the timer's millisecond resolution) runs now, in due order.
    const qint64 now = nowNs() + 500'000;
    m_armedFor = -1;
    while (!m_heap.empty() && m_heap.front().dueNs <= now) {
        std::pop_heap(m_heap.begin(), m_heap.end(), Later());
        Item item = std::move(m_heap.back());
        m_heap.pop_back();
        if (m_cancelled.erase(item.ticket))
            continue;
        item.fn(); // may schedule or cancel others
    }
    arm();
}
