#include "ReconnectTimer.h"

ReconnectTimer::ReconnectTimer(QObject *parent)
    : QObject(parent)
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        m_countdown.stop();
        Q_EMIT due();
    });
    m_countdown.setInterval(250);
    connect(&m_countdown, &QTimer::timeout, this, [this] { Q_EMIT countdown(msLeft()); });
}

int ReconnectTimer::schedule()
{
    if (m_backoff.attempts() >= m_maxAttempts)
        return -1;
    const int delay = m_backoff.next();
    m_timer.setInterval(delay);
    m_timer.start();
    m_clock.start();
    if (delay >= 500)
        m_countdown.start();
    return delay;
}

void ReconnectTimer::stop()
{
    m_timer.stop();
    m_countdown.stop();
}

int ReconnectTimer::msLeft() const
{
    return m_timer.isActive() ? int(qMax<qint64>(0, m_timer.interval() - m_clock.elapsed())) : 0;
}
