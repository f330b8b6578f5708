#pragma once

#include "DeliveryTimeline.h"

#include <QTimer>
#include <QWidget>
#include <vector>

// Paints a DeliveryTimeline. x = ms since the run started (the first event's id timestamp).
// Three lanes share that axis: "stored" (one mark per event at the time Redis stored it,
// coloured by the connection that delivered it), "received" (the same events at the time they
// arrived: a replayed backlog is a burst right after its band) and "delay" (receive time minus
// id time, log scale). Disconnects are bands from drop to resume, labelled with the cursor
// the resume asked for; turns are dashed separators; done/error end a turn with a mark;
// events a verification found different get a marker above the lanes.
//
// Painting costs O(bins + bands + width), never O(events): bins that fall into one pixel
// column are drawn as one mark (decimation). Repaints are coalesced (at most every 40 ms, less
// often when a paint takes over 10 ms):
// the model can take thousands of events a second without the GUI thread noticing.
//
//   TimelineView v;
//   v.timeline().addEvent(...); v.scheduleRepaint();
//   v.toolTipAt(pos);   // what hovering there shows (id, type, connection, delay, or a band)
class TimelineView : public QWidget
{
    Q_OBJECT
public:
    explicit TimelineView(QWidget *parent = nullptr);

    DeliveryTimeline &timeline() { return m_model; }
    const DeliveryTimeline &timeline() const { return m_model; }
    void scheduleRepaint();
    QString toolTipAt(const QPoint &pos) const;
    // Where an event stored at this id timestamp is drawn (its bin's centre); -1 when empty.
    int xForMs(qint64 absoluteMs) const;
    int storedLaneY() const; // vertical middle of the stored lane
    int paintCount() const { return m_paints; }
    qint64 longestPaintUs() const { return m_longestPaintUs; }

    QSize sizeHint() const override { return {600, 170}; }
    QSize minimumSizeHint() const override { return {240, 130}; }

protected:
    void paintEvent(QPaintEvent *event) override;
    bool event(QEvent *event) override;

private:
    struct Column // the bins that fall into one pixel column
    {
        int x = 0;
        DeliveryTimeline::Bin stored;
        DeliveryTimeline::ReceiveBin received;
    };
    struct Geometry
    {
        QRect plot;        // all lanes
        QRect stored;
        QRect received;
        QRect delay;
        qint64 axisMs = 1; // the plot's width in ms
        qint64 nowMs = 0;
        qint32 delayMaxMs = 10;
    };
    Geometry geometry() const;
    double xOf(const Geometry &g, qint64 relativeMs) const;
    double yOfDelay(const Geometry &g, qint32 delayMs) const;
    void buildColumns(const Geometry &g) const;
    QString eventText(const DeliveryTimeline::Bin &b) const;
    QString bandText(const DeliveryTimeline::Band &b) const;
    QString relative(qint64 absoluteMs) const;

    DeliveryTimeline m_model;
    QTimer m_repaint;
    QTimer m_tick; // open bands grow with the clock
    mutable std::vector<Column> m_columns; // at most one per pixel of the plot's width
    int m_paints = 0;
    qint64 m_longestPaintUs = 0;
    qint64 m_lastPaintUs = 0;
};
