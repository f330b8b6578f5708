#include "Backoff.h"

#include <QRandomGenerator>

Backoff::Backoff(int initialMs, int maxMs)
{
    setDelays(initialMs, maxMs);
}

void Backoff::setDelays(int initialMs, int maxMs)
{
    m_initialMs = qMax(0, initialMs);
    m_maxMs = qMax(m_initialMs, maxMs);
}

int Backoff::next()
{
    qint64 delay = m_initialMs;
    for (int i = 0; i < m_attempts && delay < m_maxMs; ++i)
        delay *= 2;
    delay = qMin<qint64>(delay, m_maxMs);
    ++m_attempts;
    if (m_jitter && delay > 0) {
        const qint64 spread = delay / 5;
        delay += QRandomGenerator::global()->bounded(2 * spread + 1) - spread;
    }
    return int(qMax<qint64>(0, delay));
}
