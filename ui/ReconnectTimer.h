#pragma once

#include "Backoff.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

// When to reconnect: one pending attempt at a time, delayed by a Backoff, with a countdown
// for the UI and a cap on consecutive attempts. Knows nothing of connections.
//
//   ReconnectTimer t;
//   connect(&t, &ReconnectTimer::due, ...);       // reconnect now
//   connect(&t, &ReconnectTimer::countdown, ...); // ms left, every 250 ms for delays >= 500 ms
//   if (t.schedule() < 0) ...;                    // gave up: maxAttempts in a row
//   t.resetBackoff();                             // a connection worked: next delay is the shortest
class ReconnectTimer : public QObject
{
    Q_OBJECT
public:
    explicit ReconnectTimer(QObject *parent = nullptr);

    void setDelays(int initialMs, int maxMs) { m_backoff.setDelays(initialMs, maxMs); }
    void setMaxAttempts(int n) { m_maxAttempts = n; }
    int maxAttempts() const { return m_maxAttempts; }

    int schedule(); // the delay in ms, or -1 (nothing scheduled) after maxAttempts in a row
    void stop();
    void resetBackoff() { m_backoff.reset(); }
    bool isActive() const { return m_timer.isActive(); }
    int msLeft() const;

Q_SIGNALS:
    void due();
    void countdown(int msLeft);

private:
    Backoff m_backoff{1000, 15000};
    int m_maxAttempts = 20;
    QTimer m_timer;
    QTimer m_countdown;
    QElapsedTimer m_clock;
};
