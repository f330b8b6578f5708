#pragma once

#include "EventId.h"

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <QtGlobal>
#include <vector>

// What the delivery timeline shows, as data: every accepted event (placed by its entry id's
// timestamp, with the connection that delivered it and its end-to-end delay), every
// disconnect as a band from drop to resume, turns, terminal events and the events a
// verification found different. No widgets; TimelineView paints it.
//
// Memory is bounded whatever the number of events: events go into kBins fixed bins by stored
// time and kBins by receive time, allocated once. When an event falls past the last bin, pairs
// of bins merge (the bin width doubles), so a bin covers more time but nothing is dropped:
// counts, first/last id, connections and min/max/mean delay survive merging. Bands, turns and
// differing ids have fixed caps (bands and turns merge pairwise too; their counts stay exact).
// memoryBytes() adds up the capacities of everything held; it never exceeds kMemoryBound.
//
//   DeliveryTimeline t;
//   t.addEvent(EventId::parse("1718000000000-0"), DeliveryTimeline::Message, receivedMs, 1);
//   t.connectionDropped(nowMs, 1, QStringLiteral("chaos drop"));
//   t.connectionOpened(nowMs, 2, cursor, true);   // closes the band, labelled with the cursor
class DeliveryTimeline
{
public:
    enum Type : quint8 { Message = 1, Turn = 2, Done = 4, Error = 8, Other = 16 };
    static Type typeOf(const QByteArray &sseEvent);
    static QString typeName(quint8 type);

    static constexpr int kBins = 2048;
    static constexpr qint64 kInitialBinMs = 2; // 2,048 bins x 2 ms: the first 4 s at full detail
    static constexpr int kMaxBands = 512;
    static constexpr int kMaxTurns = 256;
    static constexpr int kMaxDiffering = 256;
    static constexpr int kMaxReasons = 16;
    static constexpr int kMaxReasonChars = 80;

    struct Bin // events whose id timestamp falls in this bin's time range
    {
        quint32 count = 0;
        quint16 firstConnection = 0; // of the bin's first event (in arrival order)
        quint16 lastConnection = 0;
        quint8 types = 0;            // Type bits of the events in it
        bool differing = false;      // a verification found one of them different
        qint32 minDelayMs = 0;
        qint32 maxDelayMs = 0;
        qint64 sumDelayMs = 0;
        // First and last id in the bin (ids arrive in increasing order), kept in 24 bytes.
        quint64 firstMs = 0;
        quint64 lastMs = 0;
        quint32 firstSeq = 0;
        quint32 lastSeq = 0;
        EventId first() const { return {firstMs, firstSeq, count > 0}; }
        EventId last() const { return {lastMs, lastSeq, count > 0}; }
    };
    struct ReceiveBin // the same events by the time they were received
    {
        quint32 count = 0;
        quint16 firstConnection = 0;
        quint16 lastConnection = 0;
    };
    struct Band // from a connection's drop to the request that resumed it
    {
        qint64 fromMs = 0;  // wall-clock ms
        qint64 toMs = -1;   // -1: not resumed (yet)
        EventId cursor;     // the cursor the resume asked for
        quint16 droppedConnection = 0;
        quint16 resumedConnection = 0;
        quint8 reason = 0;  // index into reasons()
        quint32 count = 1;  // > 1 once merged with neighbours (over kMaxBands)
    };
    struct TurnMark
    {
        qint64 startMs = 0; // id timestamp of its `turn` event
        qint64 endMs = -1;  // of its done/error event; -1 while it runs
        quint32 number = 0;
        quint8 endType = 0; // Done or Error, 0 while it runs
        quint32 count = 1;
    };

    DeliveryTimeline();

    void clear();
    // An accepted event. receivedMs is wall-clock ms (the id's clock: Redis / the writer).
    void addEvent(const EventId &id, Type type, qint64 receivedMs, int connection);
    void connectionOpened(qint64 atMs, int connection, const EventId &cursor, bool resume);
    void connectionDropped(qint64 atMs, int connection, const QString &reason);
    // The client gave up (or the run ended) while disconnected: the open band ends here,
    // unresumed (it is no reconnect: bandCount() does not count it).
    void endOpenBand(qint64 atMs);
    // Ids a verification found missing, extra or different (an empty list clears the marks).
    void setDiffering(const QList<QByteArray> &ids);

    bool isEmpty() const { return m_events == 0 && m_bands.empty(); }
    qint64 originMs() const { return m_t0; }          // x = 0: the first event's id timestamp
    qint64 binMs() const { return m_binMs; }
    qint64 events() const { return m_events; }
    qint64 bandCount() const { return m_bandCount; }  // every band, also merged ones
    qint64 turnCount() const { return m_turnCount; }
    int connections() const { return m_lastConnection; }
    int differingCount() const { return int(m_differing.size()); }
    const std::vector<Bin> &bins() const { return m_bins; }
    const std::vector<ReceiveBin> &receiveBins() const { return m_recv; }
    const std::vector<Band> &bands() const { return m_bands; }
    const std::vector<TurnMark> &turns() const { return m_turns; }
    const std::vector<EventId> &differing() const { return m_differing; }
    const QStringList &reasons() const { return m_reasons; }
    EventId firstId() const { return m_first; }
    EventId lastId() const { return m_last; }
    quint8 lastType() const { return m_lastType; }
    qint32 maxDelayMs() const { return m_maxDelay; }
    // Latest time anything happened, relative to originMs() (0 when empty); open bands count
    // up to nowMs.
    qint64 spanMs(qint64 nowMs) const;
    bool hasOpenBand() const { return !m_bands.empty() && m_bands.back().toMs < 0; }

    // Folds bin b (later in time or arrival) into a, as merging bins does.
    static void mergeInto(Bin &a, const Bin &b);

    // Bytes held: the object and the capacity of every container and string it owns.
    qsizetype memoryBytes() const;
    static constexpr qsizetype kMemoryBound = 256 * 1024;

private:
    void ensureBin(qint64 index); // merges pairs of bins until index fits
    void mergeBins();
    quint8 reasonIndex(const QString &reason);

    std::vector<Bin> m_bins;
    std::vector<ReceiveBin> m_recv;
    std::vector<Band> m_bands;
    std::vector<TurnMark> m_turns;
    std::vector<EventId> m_differing;
    QStringList m_reasons;
    qint64 m_t0 = 0;
    qint64 m_binMs = kInitialBinMs;
    qint64 m_events = 0;
    qint64 m_bandCount = 0;
    qint64 m_turnCount = 0;
    qint64 m_lastReceived = 0; // relative to m_t0
    int m_lastConnection = 0;
    qint32 m_maxDelay = 0;
    EventId m_first;
    EventId m_last;
    quint8 m_lastType = 0;
};
