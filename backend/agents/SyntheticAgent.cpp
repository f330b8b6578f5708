#include "agents/SyntheticAgent.h"

#include "HopTrace.h"

#include "agents/PaceScheduler.h"

#include <QPointer>

#include <QJsonValue>
#include <charconv>
#include <chrono>
#include <cmath>

namespace {
qint64 wallUs()
{
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// An integer option in [min, max]; absent = fallback.
bool integerOption(const QJsonObject &options, const char *key, qint64 min, qint64 max, qint64 *value, QString *error)
{
    const QJsonValue v = options.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull())
        return true;
    const double d = v.toDouble(std::nan(""));
    if (!v.isDouble() || std::isnan(d) || d != std::floor(d) || d < double(min) || d > double(max)) {
        *error = QStringLiteral("\"%1\" must be an integer from %2 to %3").arg(QLatin1String(key)).arg(min).arg(max);
        return false;
    }
    *value = qint64(d);
    return true;
}
} // namespace

SyntheticAgent::SyntheticAgent(QObject *parent)
    : Agent(parent)
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &SyntheticAgent::tick);
}

std::optional<SyntheticAgent::Params> SyntheticAgent::parse(const QJsonObject &options, QString *error)
{
    Params p;
    if (!integerOption(options, "chunks", 1, kMaxChunks, &p.chunks, error)
        || !integerOption(options, "bytes", kMinBytes, kMaxBytes, &p.bytes, error))
        return std::nullopt;
    const QJsonValue rate = options.value(QStringLiteral("rate"));
    if (!rate.isUndefined() && !rate.isNull()) {
        const double r = rate.toDouble(-1);
        if (!rate.isDouble() || !(r >= 0) || !std::isfinite(r)) {
            *error = QStringLiteral("\"rate\" must be a number of chunks per second >= 0 (0 = as fast as possible)");
            return std::nullopt;
        }
        p.rate = r;
    }
    return p;
}

QString SyntheticAgent::makeChunk(qint64 k, qint64 dueUs, qint64 bytes)
{
    QString text(bytes, u'x'); // the header is < 32 bytes <= S
    char header[48];
    char *end = std::to_chars(header, header + 20, k).ptr;
    *end++ = ' ';
    end = std::to_chars(end, header + 42, dueUs).ptr;
    *end++ = ' ';
    QChar *out = text.data();
    for (const char *p = header; p != end; ++p)
        *out++ = QLatin1Char(*p);
    text[bytes - 1] = u'\n';
    return text;
}

void SyntheticAgent::start(const AgentRequest &request)
{
    QString error;
    const auto params = parse(request.options, &error);
    m_running = true;
    if (!params) {
        QMetaObject::invokeMethod(
            this,
            [this, error] {
                if (!m_running)
                    return;
                m_running = false;
                Q_EMIT failed(QStringLiteral("bad_request"), QStringLiteral("synthetic provider: %1").arg(error));
            },
            Qt::QueuedConnection);
        return;
    }
    m_params = *params;
    m_next = 0;
    m_startUs = wallUs();
    if (m_params.rate > 0) {
        if (!m_pace)
            m_pace = PaceScheduler::of(parent() ? parent() : this);
        // The schedule sits on the pace grid: agents due in the same millisecond share one
        // firing, and the firing is on time (the stamps move with it: a chunk's due time is
        // when it is made).
        const qint64 now = m_pace->nowNs();
        m_startNs = PaceScheduler::onGrid(now);
        m_startUs += (m_startNs - now) / 1000;
    }
    m_timer.start(0);
}

void SyntheticAgent::cancel()
{
    m_running = false;
    m_timer.stop();
    cancelWait();
}

SyntheticAgent::~SyntheticAgent()
{
    cancelWait();
}

void SyntheticAgent::cancelWait()
{
    if (m_pace && m_waitTicket)
        m_pace->cancel(m_waitTicket);
    m_waitTicket = 0;
}

void SyntheticAgent::tick()
{
    if (m_params.rate > 0) {
        if (m_running && m_pace)
            paced(m_pace->nowNs());
        return;
    }
    // As fast as possible: kBurst chunks per loop turn, each due when it is made.
    for (int burst = 0; burst < kBurst && m_running; ++burst) {
        if (m_next >= m_params.chunks) {
            m_running = false;
            Q_EMIT finished();
            return;
        }
        Q_EMIT chunk(makeChunk(m_next++, wallUs(), m_params.bytes));
    }
    if (m_running)
        m_timer.start(0); // a burst is over: let the event loop breathe, then go on
}

void SyntheticAgent::paced(qint64 nowNs)
{
    // Every chunk that is due by nowNs (the scheduler's clock), then a wait on the shared pace
    // timer for the next one. Chunk k is due at start + k/rate, so timer drift never adds up.
    const double nsPerChunk = 1e9 / m_params.rate;
    for (int burst = 0; burst < kBurst && m_running; ++burst) {
        if (m_next >= m_params.chunks) {
            m_running = false;
            Q_EMIT finished();
            return;
        }
        const qint64 offsetNs = PaceScheduler::onGrid(qint64(double(m_next) * nsPerChunk));
        if (m_startNs + offsetNs > nowNs) {
            // A raw pointer keeps the item plain; the destructor cancels it.
            m_waitTicket = m_pace->schedule(m_startNs + offsetNs, [](void *self, qint64 now) {
                auto *agent = static_cast<SyntheticAgent *>(self);
                agent->m_waitTicket = 0;
                agent->paced(now);
            }, this);
            return;
        }
        if (HopTrace::on()) {
            const qint64 made = HopTrace::nowNs();
            HopTrace::offer(made - (m_pace->nowNs() - (m_startNs + offsetNs)), made);
        }
        Q_EMIT chunk(makeChunk(m_next++, m_startUs + offsetNs / 1000, m_params.bytes));
    }
    if (m_running)
        m_timer.start(0); // a burst is over: let the event loop breathe, then go on
}
