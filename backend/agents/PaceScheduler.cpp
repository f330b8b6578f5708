#include "agents/PaceScheduler.h"

#include <QDeadlineTimer>
#include <QSocketNotifier>
#include <algorithm>

#ifdef Q_OS_LINUX
#include <sys/timerfd.h>
#include <unistd.h>
#endif

PaceScheduler::PaceScheduler(QObject *parent)
    : QObject(parent)
{
    setObjectName(QStringLiteral("agentstreams.pace"));
    m_clock.start();
    // QElapsedTimer and QDeadlineTimer share CLOCK_MONOTONIC on Linux.
    m_clockBaseNs = QDeadlineTimer::current(Qt::PreciseTimer).deadlineNSecs() - m_clock.nsecsElapsed();
#ifdef Q_OS_LINUX
    m_timerFd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (m_timerFd >= 0) {
        m_timerFdNotifier = new QSocketNotifier(m_timerFd, QSocketNotifier::Read, this);
        connect(m_timerFdNotifier, &QSocketNotifier::activated, this, &PaceScheduler::onTimerFd);
    }
#endif
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &PaceScheduler::fire);
}

PaceScheduler::~PaceScheduler()
{
#ifdef Q_OS_LINUX
    if (m_timerFd >= 0) {
        delete m_timerFdNotifier;
        ::close(m_timerFd);
    }
#endif
}

void PaceScheduler::onTimerFd()
{
#ifdef Q_OS_LINUX
    quint64 expirations = 0;
    if (::read(m_timerFd, &expirations, sizeof expirations) != sizeof expirations)
        return; // armed again meanwhile (or spurious): nothing is due yet
#endif
    fire();
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
        m_armedFor = -1;
        m_cancelled.clear(); // nothing is waiting: every cancelled ticket has run or gone
        if (m_timerFd < 0)
            m_timer.stop();
#ifdef Q_OS_LINUX
        else {
            const itimerspec off{};
            timerfd_settime(m_timerFd, 0, &off, nullptr);
        }
#endif
        return;
    }
    m_armedFor = m_heap.front().dueNs;
#ifdef Q_OS_LINUX
    if (m_timerFd >= 0) {
        // Absolute: a deadline already past expires at once (the next event-loop turn).
        const qint64 at = qMax<qint64>(1, m_clockBaseNs + m_armedFor);
        itimerspec when{};
        when.it_value.tv_sec = time_t(at / 1'000'000'000);
        when.it_value.tv_nsec = long(at % 1'000'000'000);
        timerfd_settime(m_timerFd, TFD_TIMER_ABSTIME, &when, nullptr);
        return;
    }
#endif
    const qint64 waitNs = m_armedFor - nowNs();
    m_timer.start(waitNs <= 0 ? 0 : int((waitNs + 999'999) / 1'000'000));
}

void PaceScheduler::fire()
{
    // Everything due runs now, in due order (the timer never fires before the first item is
    // due: the timerfd's deadline is the due time, Qt's timer is rounded up to whole ms).
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
