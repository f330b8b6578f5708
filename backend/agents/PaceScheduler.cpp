#include "agents/PaceScheduler.h"

#include <algorithm>
#include <ctime>

#ifdef Q_OS_LINUX
#include <sys/timerfd.h>
#include <unistd.h>
#endif

PaceScheduler::PaceScheduler(QObject *parent)
    : QObject(parent)
{
    setObjectName(QStringLiteral("agentstreams.pace"));
#ifdef Q_OS_LINUX
    m_timerFd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (m_timerFd >= 0) {
        m_timerNotifier = new QSocketNotifier(qintptr(m_timerFd), QSocketNotifier::Read, this);
        connect(m_timerNotifier, &QSocketNotifier::activated, this, [this] {
            quint64 expirations = 0;
            if (::read(m_timerFd, &expirations, sizeof expirations) > 0)
                fire();
        });
    }
#endif
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &PaceScheduler::fire);
}

PaceScheduler::~PaceScheduler()
{
    delete m_timerNotifier;
    if (m_timerFd >= 0)
        ::close(m_timerFd);
}

qint64 PaceScheduler::nowNs() const
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
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
        setTimerFd(0);
        m_armedFor = -1;
        m_cancelled.clear(); // nothing is waiting: every cancelled ticket has run or gone
        return;
    }
    m_armedFor = m_heap.front().dueNs;
    if (m_timerFd >= 0) {
        setTimerFd(qMax<qint64>(m_armedFor, 1)); // 0 would disarm it; a time past fires at once
        return;
    }
    const qint64 waitNs = m_armedFor - nowNs();
    m_timer.start(waitNs <= 0 ? 0 : int((waitNs + 999'999) / 1'000'000));
}

void PaceScheduler::setTimerFd(qint64 dueNs)
{
#ifdef Q_OS_LINUX
    if (m_timerFd < 0)
        return;
    itimerspec spec{};
    spec.it_value.tv_sec = time_t(dueNs / 1'000'000'000);
    spec.it_value.tv_nsec = long(dueNs % 1'000'000'000);
    ::timerfd_settime(m_timerFd, TFD_TIMER_ABSTIME, &spec, nullptr);
#else
    Q_UNUSED(dueNs);
#endif
}

void PaceScheduler::fire()
{
    // Everything due runs now, in due order (neither timer fires before the first item is due:
    // the timerfd is armed for its exact time, the QTimer to whole milliseconds rounded up).
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
