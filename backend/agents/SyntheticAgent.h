#pragma once

#include "agents/Agent.h"

#include <QPointer>
#include <QTimer>
#include <optional>

// The benchmark provider (enabled with --bench): machine-made chunks at a chosen rate, so
// throughput and end-to-end latency can be measured without a model.
//
// Options of the JSON create body: {"provider": "synthetic", "chunks": C, "bytes": S, "rate": R}
//   C  1..10,000,000 chunks (default 100)
//   S  32..1 MiB bytes per chunk (default 64)
//   R  chunks per second, >= 0 (default 0 = as fast as the event loop allows, in bursts of
//      kBurst chunks per loop turn so other work still runs)
// Chunk k (from 0) is exactly S ASCII bytes: "<k> <due µs since the Unix epoch> xxx...x\n".
// With R > 0 chunk k is due at start + k/R (scheduled against the start, so timer drift does not
// accumulate); with R = 0 a chunk is due when it is made.
//
//   start(request) -> chunk() x C, finished() | failed("bad_request", why) on invalid options
class SyntheticAgent : public Agent
{
    Q_OBJECT
public:
    struct Params
    {
        qint64 chunks = 100;
        qint64 bytes = 64;
        double rate = 0;
    };
    static constexpr qint64 kMaxChunks = 10'000'000;
    static constexpr qint64 kMinBytes = 32;
    static constexpr qint64 kMaxBytes = 1024 * 1024;
    static constexpr int kBurst = 256;

    explicit SyntheticAgent(QObject *parent = nullptr);
    ~SyntheticAgent() override;
    void start(const AgentRequest &request) override;
    void cancel() override;
    QString name() const override { return QStringLiteral("synthetic"); }

    // nullopt and *error for invalid options.
    static std::optional<Params> parse(const QJsonObject &options, QString *error);
    // The text of chunk k.
    static QString makeChunk(qint64 k, qint64 dueUs, qint64 bytes);

private:
    void tick();
    void paced(qint64 nowNs);
    void cancelWait();

    Params m_params;
    QTimer m_timer;
    qint64 m_startNs = 0; // the pace scheduler's clock at start: schedules (rate > 0)
    qint64 m_startUs = 0; // wall clock at start: stamps
    qint64 m_next = 0;
    bool m_running = false;
    QPointer<class PaceScheduler> m_pace; // shared with the other agents of our parent
    quint64 m_waitTicket = 0;
};
