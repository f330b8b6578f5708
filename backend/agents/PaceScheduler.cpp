#include "agents/PaceScheduler.h"

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
    const bool earliest = m_queue.empty() || dueNs < m_queue.begin()->first;
    m_tickets.insert(ticket, m_queue.emplace(dueNs, std::make_pair(ticket, std::move(fn))));
    if (earliest)
        arm();
    return ticket;
}

void PaceScheduler::cancel(quint64 ticket)
{
    auto it = m_tickets.find(ticket);
    if (it == m_tickets.end())
        return;
    m_queue.erase(it.value());
    m_tickets.erase(it);
}

void PaceScheduler::arm()
{
    if (m_queue.empty()) {
        m_timer.stop();
        return;
    }
    const qint64 waitNs = m_queue.begin()->first - nowNs();
    m_timer.start(waitNs <= 0 ? 0 : int((waitNs + 999'999) / 1'000'000));
}

void PaceScheduler::fire()
{
    // Everything due (within the timer's millisecond resolution) runs now, in due order.
    const qint64 now = nowNs() + 500'000;
    while (!m_queue.empty() && m_queue.begin()->first <= now) {
        auto node = m_queue.extract(m_queue.begin());
        m_tickets.remove(node.mapped().first);
        node.mapped().second(); // may schedule or cancel others
    }
    arm();
}
