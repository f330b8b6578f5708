#pragma once

#include <QByteArray>
#include <QHash>
#include <QMutex>
#include <array>
#include <atomic>

// Process-wide counters for GET /metrics (Prometheus text format 0.0.4). Cheap to bump from
// the backend thread; rendered on request together with gauges read from live objects.
class Metrics
{
public:
    static Metrics &instance();

    void httpResponse(int status);
    void agentError(const QByteArray &code);
    void chunksDelivered(quint64 n) { m_delivered.fetch_add(n, std::memory_order_relaxed); }
    void runStarted() { m_runsStarted.fetch_add(1, std::memory_order_relaxed); }
    void rateLimited() { m_rateLimited.fetch_add(1, std::memory_order_relaxed); }
    // An append call Redis answered with a transient error (LOADING, BUSY, ...): sent again.
    void writeRetried() { m_writeRetries.fetch_add(1, std::memory_order_relaxed); }
    // A /v1/responses resume (starting_after) that continued from a checkpoint of this
    // instance, or that read its response from the first entry.
    void responseResumed(bool fromCheckpoint) { (fromCheckpoint ? m_resumesFromCheckpoint : m_resumesFromStart).fetch_add(1, std::memory_order_relaxed); }
    void readersDropped(const char *reason);
    // Round trip of one append script call (a batch of XADDs, run records, TTLs), in seconds.
    void appendLatency(double seconds);

    struct Gauges
    {
        int activeRuns = 0;
        int openStreams = 0;
        qint64 unsentBytes = 0;
        int liveStreamKeys = 0;
        quint64 chunksWritten = 0;
        qint64 writeBufferBytes = 0;
        int redisReconnects = 0;
        int redisConnections = 0;
        int redisConnected = 0;
    };
    QByteArray render(const Gauges &gauges) const;

    static constexpr std::array<double, 12> kBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0};

private:
    Metrics() = default;
    mutable QMutex m_mutex;
    QHash<int, quint64> m_responses;
    QHash<QByteArray, quint64> m_agentErrors;
    QHash<QByteArray, quint64> m_dropped;
    std::array<quint64, kBuckets.size()> m_latencyBuckets{};
    quint64 m_latencyCount = 0;
    double m_latencySum = 0;
    std::atomic<quint64> m_delivered{0};
    std::atomic<quint64> m_runsStarted{0};
    std::atomic<quint64> m_rateLimited{0};
    std::atomic<quint64> m_writeRetries{0};
    std::atomic<quint64> m_resumesFromCheckpoint{0};
    std::atomic<quint64> m_resumesFromStart{0};
};
