#include "DeliveryTimeline.h"

#include <algorithm>

namespace {
// Halves a vector of mergeable marks in place: 0+1, 2+3, ... (an odd last one stays).
template<typename T, typename Merge>
void halve(std::vector<T> &v, Merge merge)
{
    size_t out = 0;
    for (size_t i = 0; i < v.size(); i += 2) {
        T m = v[i];
        if (i + 1 < v.size())
            merge(m, v[i + 1]);
        v[out++] = m;
    }
    v.resize(out);
}
} // namespace

DeliveryTimeline::Type DeliveryTimeline::typeOf(const QByteArray &sseEvent)
{
    if (sseEvent == "message")
        return Message;
    if (sseEvent == "turn")
        return Turn;
    if (sseEvent == "done")
        return Done;
    if (sseEvent == "error")
        return Error;
    return Other;
}

QString DeliveryTimeline::typeName(quint8 type)
{
    switch (type) {
    case Message: return QStringLiteral("message");
    case Turn: return QStringLiteral("turn");
    case Done: return QStringLiteral("done");
    case Error: return QStringLiteral("error");
    default: return QStringLiteral("other");
    }
}

DeliveryTimeline::DeliveryTimeline()
{
    // Everything that grows is allocated to its cap once: the memory of a run of 20 events and
    // of 20 million is the same, and no reallocation happens while events stream in.
    m_bins.resize(kBins);
    m_recv.resize(kBins);
    m_bands.reserve(kMaxBands);
    m_turns.reserve(kMaxTurns);
    m_differing.reserve(kMaxDiffering);
    m_reasons.reserve(kMaxReasons);
}

void DeliveryTimeline::clear()
{
    std::fill(m_bins.begin(), m_bins.end(), Bin{});
    std::fill(m_recv.begin(), m_recv.end(), ReceiveBin{});
    m_bands.clear();
    m_turns.clear();
    m_differing.clear();
    m_reasons.clear();
    m_t0 = 0;
    m_binMs = kInitialBinMs;
    m_events = 0;
    m_bandCount = 0;
    m_turnCount = 0;
    m_lastReceived = 0;
    m_lastConnection = 0;
    m_maxDelay = 0;
    m_first = EventId{};
    m_last = EventId{};
    m_lastType = 0;
}

void DeliveryTimeline::mergeInto(Bin &a, const Bin &b)
{
    if (b.count == 0)
        return;
    if (a.count == 0) {
        a = b;
        return;
    }
    a.count += b.count;
    a.lastConnection = b.lastConnection;
    a.types |= b.types;
    a.differing = a.differing || b.differing;
    a.minDelayMs = std::min(a.minDelayMs, b.minDelayMs);
    a.maxDelayMs = std::max(a.maxDelayMs, b.maxDelayMs);
    a.sumDelayMs += b.sumDelayMs;
    a.lastMs = b.lastMs; // b is the later bin, or the later event
    a.lastSeq = b.lastSeq;
}

void DeliveryTimeline::mergeBins()
{
    for (int i = 0; i < kBins / 2; ++i) {
        Bin b = m_bins[size_t(2 * i)];
        mergeInto(b, m_bins[size_t(2 * i + 1)]);
        m_bins[size_t(i)] = b;
        ReceiveBin r = m_recv[size_t(2 * i)];
        const ReceiveBin &r2 = m_recv[size_t(2 * i + 1)];
        if (r.count == 0) {
            r = r2;
        } else if (r2.count > 0) {
            r.count += r2.count;
            r.lastConnection = r2.lastConnection;
        }
        m_recv[size_t(i)] = r;
    }
    std::fill(m_bins.begin() + kBins / 2, m_bins.end(), Bin{});
    std::fill(m_recv.begin() + kBins / 2, m_recv.end(), ReceiveBin{});
    m_binMs *= 2;
}

void DeliveryTimeline::ensureBin(qint64 index)
{
    while (index >= kBins) {
        mergeBins();
        index /= 2;
    }
}

void DeliveryTimeline::addEvent(const EventId &id, Type type, qint64 receivedMs, int connection)
{
    if (m_events == 0) {
        m_t0 = id.valid ? qint64(id.ms) : receivedMs;
        m_first = id;
    }
    const qint64 storedMs = id.valid ? qint64(id.ms) : receivedMs;
    const qint64 at = std::max<qint64>(0, storedMs - m_t0);
    const qint64 recvAt = std::max<qint64>(0, receivedMs - m_t0);
    ensureBin(std::max(at, recvAt) / m_binMs);

    const qint32 delay = qint32(std::clamp<qint64>(receivedMs - storedMs, -1'000'000'000, 1'000'000'000));
    const auto conn = quint16(std::clamp(connection, 0, 0xffff));
    Bin &b = m_bins[size_t(at / m_binMs)];
    Bin one;
    one.count = 1;
    one.firstConnection = one.lastConnection = conn;
    one.types = type;
    one.minDelayMs = one.maxDelayMs = delay;
    one.sumDelayMs = delay;
    one.firstMs = one.lastMs = id.ms;
    one.firstSeq = one.lastSeq = quint32(id.seq);
    mergeInto(b, one);
    ReceiveBin &r = m_recv[size_t(recvAt / m_binMs)];
    if (r.count++ == 0)
        r.firstConnection = conn;
    r.lastConnection = conn;

    ++m_events;
    m_last = id;
    m_lastType = type;
    m_lastReceived = std::max(m_lastReceived, recvAt);
    m_maxDelay = std::max(m_maxDelay, delay);
    m_lastConnection = std::max(m_lastConnection, connection);

    if (type == Turn) {
        if (m_turns.size() == size_t(kMaxTurns))
            halve(m_turns, [](TurnMark &a, const TurnMark &b) {
                a.endMs = b.endMs;
                a.endType = b.endType;
                a.count += b.count;
            });
        ++m_turnCount;
        m_turns.push_back({storedMs, -1, quint32(m_turnCount), 0, 1});
    } else if (type == Done || type == Error) {
        if (m_turns.empty()) // attached after the turn event was gone? keep the end visible
            m_turns.push_back({m_t0, -1, 1, 0, 1});
        m_turns.back().endMs = storedMs;
        m_turns.back().endType = type;
    }
}

quint8 DeliveryTimeline::reasonIndex(const QString &reason)
{
    QString r = reason.left(kMaxReasonChars);
    r.squeeze(); // its capacity is what memoryBytes() counts
    const qsizetype i = m_reasons.indexOf(r);
    if (i >= 0)
        return quint8(i);
    if (m_reasons.size() == kMaxReasons)
        return quint8(kMaxReasons - 1); // the last slot stands for "and others" once full
    m_reasons.append(m_reasons.size() == kMaxReasons - 1 ? QStringLiteral("other") : r);
    return quint8(m_reasons.size() - 1);
}

void DeliveryTimeline::connectionDropped(qint64 atMs, int connection, const QString &reason)
{
    if (hasOpenBand())
        return; // one band per outage: a failed attempt to resume does not start another
    if (m_bands.size() == size_t(kMaxBands))
        halve(m_bands, [](Band &a, const Band &b) {
            a.toMs = b.toMs;
            a.cursor = b.cursor;
            a.resumedConnection = b.resumedConnection;
            a.count += b.count;
        });
    Band band;
    band.fromMs = atMs;
    band.droppedConnection = quint16(std::clamp(connection, 0, 0xffff));
    band.reason = reasonIndex(reason);
    band.count = 1;
    m_bands.push_back(band);
    m_lastConnection = std::max(m_lastConnection, connection);
}

void DeliveryTimeline::connectionOpened(qint64 atMs, int connection, const EventId &cursor, bool resume)
{
    m_lastConnection = std::max(m_lastConnection, connection);
    if (!resume)
        return;
    // Every resume closes a band: the one its drop opened, or (a resume while connected, or a
    // failed attempt's retry) a new one from now, so bands always equal the reconnects.
    if (!hasOpenBand()) {
        connectionDropped(atMs, connection - 1, QStringLiteral("resumed while connected"));
    }
    Band &band = m_bands.back();
    band.toMs = atMs;
    band.cursor = cursor;
    band.resumedConnection = quint16(std::clamp(connection, 0, 0xffff));
    ++m_bandCount;
}

void DeliveryTimeline::endOpenBand(qint64 atMs)
{
    if (hasOpenBand())
        m_bands.back().toMs = std::max(atMs, m_bands.back().fromMs);
}

void DeliveryTimeline::setDiffering(const QList<QByteArray> &ids)
{
    m_differing.clear();
    for (Bin &b : m_bins)
        b.differing = false;
    for (const QByteArray &text : ids) {
        const EventId id = EventId::parse(text);
        if (!id.valid || m_events == 0)
            continue;
        if (m_differing.size() < size_t(kMaxDiffering))
            m_differing.push_back(id);
        const qint64 at = std::max<qint64>(0, qint64(id.ms) - m_t0);
        if (at / m_binMs < kBins)
            m_bins[size_t(at / m_binMs)].differing = true;
    }
}

qint64 DeliveryTimeline::spanMs(qint64 nowMs) const
{
    if (m_events == 0)
        return 0;
    qint64 end = std::max<qint64>(qint64(m_last.ms) - m_t0, m_lastReceived);
    for (const Band &b : m_bands)
        end = std::max(end, (b.toMs < 0 ? nowMs : b.toMs) - m_t0);
    return std::max<qint64>(end, 1);
}

qsizetype DeliveryTimeline::memoryBytes() const
{
    qsizetype bytes = sizeof(*this);
    bytes += qsizetype(m_bins.capacity() * sizeof(Bin));
    bytes += qsizetype(m_recv.capacity() * sizeof(ReceiveBin));
    bytes += qsizetype(m_bands.capacity() * sizeof(Band));
    bytes += qsizetype(m_turns.capacity() * sizeof(TurnMark));
    bytes += qsizetype(m_differing.capacity() * sizeof(EventId));
    bytes += m_reasons.capacity() * qsizetype(sizeof(QString));
    for (const QString &r : m_reasons)
        bytes += (r.capacity() + 1) * qsizetype(sizeof(QChar));
    return bytes;
}
