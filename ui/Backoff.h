#pragma once

#include <QtGlobal>

// Reconnect delays: initial, doubled per consecutive failure up to a ceiling, with +-20 %
// jitter so that many clients dropped together do not come back together. Pure; the caller
// calls reset() when a connection delivered events again.
//
//   Backoff b(1000, 30000);
//   int ms = b.next();   // ~1000, ~2000, ~4000, ... ~30000
class Backoff
{
public:
    explicit Backoff(int initialMs = 1000, int maxMs = 30000);

    void setDelays(int initialMs, int maxMs);
    void setJitter(bool on) { m_jitter = on; }
    int next();          // the delay before the next attempt; counts the attempt
    void reset() { m_attempts = 0; }
    int attempts() const { return m_attempts; }
    int initialMs() const { return m_initialMs; }
    int maxMs() const { return m_maxMs; }

private:
    int m_initialMs;
    int m_maxMs;
    int m_attempts = 0;
    bool m_jitter = true;
};
