#include "TimelineView.h"

#include "Theme.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QHelpEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace {
constexpr int kTop = 16;    // band labels
constexpr int kBottom = 16; // axis labels
constexpr int kRight = 10;
constexpr int kHit = 3;     // px either side of the mouse that a tooltip looks at

qint64 niceStep(double raw)
{
    const double p = std::pow(10.0, std::floor(std::log10(std::max(raw, 1.0))));
    for (const double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= raw)
            return qint64(m * p);
    return qint64(10 * p);
}

QString duration(qint64 ms)
{
    if (ms <= 0)
        return ms == 0 ? QStringLiteral("<1 ms") : QStringLiteral("%1 ms").arg(ms);
    if (ms < 1000)
        return QStringLiteral("%1 ms").arg(ms);
    if (ms < 60000)
        return QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', ms < 10000 ? 2 : 1);
    return QStringLiteral("%1 min").arg(double(ms) / 60000.0, 0, 'f', 1);
}

QString axisLabel(qint64 ms, qint64 step)
{
    if (step < 1000)
        return ms == 0 ? QStringLiteral("0") : QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', step < 100 ? 2 : 1);
    if (step < 60000)
        return QStringLiteral("%1 s").arg(ms / 1000);
    return QStringLiteral("%1 min").arg(double(ms) / 60000.0, 0, 'f', step % 60000 ? 1 : 0);
}

QString types(quint8 bits)
{
    QStringList names;
    for (const quint8 t : {DeliveryTimeline::Turn, DeliveryTimeline::Message, DeliveryTimeline::Done, DeliveryTimeline::Error,
                           DeliveryTimeline::Other})
        if (bits & t)
            names += DeliveryTimeline::typeName(t);
    return names.join(QStringLiteral(", "));
}

QString shortId(const EventId &id)
{
    const QString text = QString::fromLatin1(id.toText());
    return text.size() > 11 ? QStringLiteral("\u2026") + text.right(10) : text;
}
} // namespace

TimelineView::TimelineView(QWidget *parent)
    : QWidget(parent)
{
    setObjectName(QStringLiteral("timelineView"));
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    m_repaint.setSingleShot(true);
    connect(&m_repaint, &QTimer::timeout, this, qOverload<>(&QWidget::update));
    m_tick.setInterval(200);
    connect(&m_tick, &QTimer::timeout, this, [this] {
        if (!m_model.hasOpenBand())
            m_tick.stop();
        scheduleRepaint();
    });
}

void TimelineView::scheduleRepaint()
{
    if (m_model.hasOpenBand() && !m_tick.isActive() && isVisible())
        m_tick.start();
    // 25 paints a second while events stream; fewer if a paint gets expensive (a huge run),
    // so that painting never takes more than a quarter of the GUI thread.
    if (!m_repaint.isActive() && isVisible())
        m_repaint.start(int(std::clamp<qint64>(4 * m_lastPaintUs / 1000, 40, 250)));
}

TimelineView::Geometry TimelineView::geometry() const
{
    Geometry g;
    const int left = fontMetrics().horizontalAdvance(QStringLiteral("received")) + 14;
    g.plot = QRect(left, kTop, std::max(10, width() - left - kRight), std::max(30, height() - kTop - kBottom));
    const int storedH = std::max(14, g.plot.height() * 30 / 100);
    const int receivedH = std::max(8, g.plot.height() * 13 / 100);
    g.stored = QRect(g.plot.left(), g.plot.top(), g.plot.width(), storedH);
    g.received = QRect(g.plot.left(), g.stored.bottom() + 4, g.plot.width(), receivedH);
    g.delay = QRect(g.plot.left(), g.received.bottom() + 8, g.plot.width(), std::max(10, g.plot.bottom() - g.received.bottom() - 8));
    g.nowMs = QDateTime::currentMSecsSinceEpoch();
    g.axisMs = std::max<qint64>(10, qint64(double(m_model.spanMs(g.nowMs)) * 1.03) + 1);
    qint32 top = 10;
    while (top < m_model.maxDelayMs() && top < 1'000'000'000 / 10)
        top *= 10;
    g.delayMaxMs = top;
    return g;
}

double TimelineView::xOf(const Geometry &g, qint64 relativeMs) const
{
    return g.plot.left() + double(std::clamp<qint64>(relativeMs, 0, g.axisMs)) * g.plot.width() / double(g.axisMs);
}

double TimelineView::yOfDelay(const Geometry &g, qint32 delayMs) const
{
    const double v = std::log10(1.0 + std::max(0, delayMs)) / std::log10(1.0 + g.delayMaxMs);
    return g.delay.bottom() - std::clamp(v, 0.0, 1.0) * g.delay.height();
}

int TimelineView::xForMs(qint64 absoluteMs) const
{
    if (m_model.events() == 0)
        return -1;
    const Geometry g = geometry();
    const qint64 binMs = m_model.binMs();
    const qint64 bin = std::max<qint64>(0, absoluteMs - m_model.originMs()) / binMs;
    return int(xOf(g, bin * binMs + binMs / 2)); // marks are drawn at their bin's centre
}

int TimelineView::storedLaneY() const
{
    return geometry().stored.center().y();
}

void TimelineView::buildColumns(const Geometry &g) const
{
    m_columns.clear();
    const auto &bins = m_model.bins();
    const auto &recv = m_model.receiveBins();
    const qint64 binMs = m_model.binMs();
    for (size_t i = 0; i < bins.size(); ++i) {
        if (bins[i].count == 0 && recv[i].count == 0)
            continue;
        const int x = int(xOf(g, qint64(i) * binMs + binMs / 2));
        if (m_columns.empty() || m_columns.back().x != x)
            m_columns.push_back(Column{x, {}, {}});
        Column &c = m_columns.back();
        DeliveryTimeline::mergeInto(c.stored, bins[i]);
        if (recv[i].count > 0) {
            if (c.received.count == 0)
                c.received.firstConnection = recv[i].firstConnection;
            c.received.count += recv[i].count;
            c.received.lastConnection = recv[i].lastConnection;
        }
    }
}

void TimelineView::paintEvent(QPaintEvent *)
{
    QElapsedTimer clock;
    clock.start();
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing, false);
    const QPalette &pal = palette();
    const Geometry g = geometry();
    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.82);
    p.setFont(small);
    const QFontMetrics fm(small);
    const QColor muted = Theme::color(Theme::Muted, pal);
    QColor grid = Theme::color(Theme::Separator, pal);
    grid.setAlpha(60);

    // Lanes and their names.
    QColor lane = pal.color(QPalette::AlternateBase);
    if (lane == pal.color(QPalette::Base))
        lane = pal.color(QPalette::Window);
    p.fillRect(g.stored, lane);
    p.fillRect(g.received, lane);
    p.setPen(muted);
    const int labelRight = g.plot.left() - 6;
    p.drawText(QRect(0, g.stored.top(), labelRight, g.stored.height()), Qt::AlignRight | Qt::AlignVCenter, tr("stored"));
    p.drawText(QRect(0, g.received.top() - 2, labelRight, g.received.height() + 4), Qt::AlignRight | Qt::AlignVCenter, tr("received"));
    p.drawText(g.delay.adjusted(0, 1, -3, 0), Qt::AlignRight | Qt::AlignTop, tr("delay (received \u2212 stored), log scale"));

    // Delay grid: 1 ms, 10 ms, ... (log scale).
    for (qint32 d = 1; d <= g.delayMaxMs; d *= 10) {
        const int y = int(yOfDelay(g, d));
        p.setPen(grid);
        p.drawLine(g.delay.left(), y, g.delay.right(), y);
        p.setPen(muted);
        const QString label = d < 1000 ? QStringLiteral("%1 ms").arg(d) : QStringLiteral("%1 s").arg(d / 1000);
        p.drawText(QRect(0, y - fm.height() / 2, labelRight, fm.height()), Qt::AlignRight | Qt::AlignVCenter, label);
        if (d > 1'000'000'000 / 10)
            break;
    }

    if (m_model.events() == 0) {
        p.setPen(muted);
        p.drawText(g.plot, Qt::AlignCenter | Qt::TextWordWrap,
                   tr("Each event appears here as it arrives: placed at the time Redis stored it, coloured by the connection "
                      "that delivered it; disconnects show as bands."));
        ++m_paints;
        return;
    }

    // Time axis.
    const qint64 step = niceStep(double(g.axisMs) / std::max(2.0, g.plot.width() / 90.0));
    for (qint64 t = 0; t <= g.axisMs; t += step) {
        const int x = int(xOf(g, t));
        p.setPen(grid);
        p.drawLine(x, g.plot.top(), x, g.plot.bottom());
        p.setPen(muted);
        const QString label = axisLabel(t, step);
        const int w = fm.horizontalAdvance(label);
        if (x + w / 2 < width())
            p.drawText(x - (t == 0 ? 0 : w / 2), g.plot.bottom() + fm.ascent() + 3, label);
    }

    // Disconnects: bands from drop to resume, labelled with the cursor of the resume.
    const qint64 t0 = m_model.originMs();
    const QColor bandHue = Theme::color(Theme::Band, pal);
    QColor bandFill = bandHue;
    bandFill.setAlpha(Theme::isDark(pal) ? 70 : 60);
    QColor bandEdge = bandHue;
    bandEdge.setAlpha(170);
    int labelEnd = -1000;
    // All bands in two translucent fills (their area, their left edges) through a clip region:
    // a translucent fill per band costs ~50 us (Qt blends it on its thread pool), so 500 bands
    // drawn one by one took 25 ms. Bands that touch at this scale become one rectangle.
    std::vector<QRect> areas;
    std::vector<QRect> edges;
    for (const DeliveryTimeline::Band &b : m_model.bands()) {
        const int x0 = int(xOf(g, b.fromMs - t0));
        const int x1 = std::max(x0 + 2, int(xOf(g, (b.toMs < 0 ? g.nowMs : b.toMs) - t0)));
        if (!areas.empty() && x0 <= areas.back().right() + 1)
            areas.back().setRight(std::max(areas.back().right(), x1 - 1));
        else
            areas.emplace_back(x0, g.plot.top(), x1 - x0, g.plot.height());
        if (edges.empty() || x0 > edges.back().x())
            edges.emplace_back(x0, g.plot.top() - 3, 1, g.plot.height() + 3);
        if (b.resumedConnection != 0 && x0 > labelEnd + 4) {
            const QString label = QStringLiteral("\u21bb ") + (b.cursor.valid ? shortId(b.cursor) : tr("start"));
            p.setPen(Theme::readable(bandHue, pal));
            p.drawText(x0 + 2, fm.ascent() + 1, label);
            labelEnd = x0 + 2 + fm.horizontalAdvance(label);
        }
    }
    for (const auto &[rects, color] : {std::pair{&areas, bandFill}, std::pair{&edges, bandEdge}}) {
        if (rects->empty())
            continue;
        QRegion region;
        region.setRects(rects->data(), int(rects->size())); // sorted, disjoint, one band of y
        p.setClipRegion(region);
        p.fillRect(g.plot.adjusted(0, -3, 0, 0), color);
    }
    p.setClipping(false);

    // Turns: dashed separators.
    QPen dashed(Theme::color(Theme::Separator, pal), 1, Qt::DashLine);
    for (const DeliveryTimeline::TurnMark &t : m_model.turns()) {
        const int x = int(xOf(g, t.startMs - t0));
        p.setPen(dashed);
        p.drawLine(x, g.plot.top(), x, g.plot.bottom());
        p.setPen(muted);
        p.drawText(x + 3, g.stored.top() + fm.ascent(), t.count > 1 ? tr("T%1+").arg(t.number) : tr("T%1").arg(t.number));
    }

    // Events, one mark per pixel column (decimated), by stored time, by receive time, and delays.
    buildColumns(g);
    quint32 most = 1;
    for (const Column &c : m_columns)
        most = std::max({most, c.stored.count, c.received.count});
    const double logMost = std::log2(1.0 + most);
    const int tickW = g.plot.width() / double(g.axisMs) * m_model.binMs() >= 2.5 ? 2 : 1;
    auto height = [&](quint32 count, int laneH) { return std::max(3, int(laneH * (0.45 + 0.55 * std::log2(1.0 + count) / logMost))); };
    auto tick = [&](const QRect &laneRect, int x, quint32 count, quint16 first, quint16 last) {
        const int h = std::min(laneRect.height() - 2, height(count, laneRect.height() - 2));
        const int y = laneRect.bottom() - h;
        p.fillRect(QRect(x, y, tickW, h), Theme::connectionColor(last, pal));
        if (first != last) // events of two connections in this column: the older one on top
            p.fillRect(QRect(x, y, tickW, h / 2), Theme::connectionColor(first, pal));
    };
    for (const Column &c : m_columns) {
        if (c.stored.count > 0) {
            tick(g.stored, c.x, c.stored.count, c.stored.firstConnection, c.stored.lastConnection);
            const QColor color = Theme::connectionColor(c.stored.lastConnection, pal);
            const int yMin = int(yOfDelay(g, c.stored.minDelayMs));
            const int yMax = int(yOfDelay(g, c.stored.maxDelayMs));
            p.fillRect(QRect(c.x, yMax, tickW, std::max(1, yMin - yMax + 1)), color);
            const int yMean = int(yOfDelay(g, qint32(c.stored.sumDelayMs / qint64(c.stored.count))));
            p.fillRect(QRect(c.x - 1, yMean - 1, tickW + 2, 3), color);
        }
        if (c.received.count > 0)
            tick(g.received, c.x, c.received.count, c.received.firstConnection, c.received.lastConnection);
    }

    // Ends of turns: done as a ring, error as a cross, on the stored lane.
    p.setRenderHint(QPainter::Antialiasing, true);
    for (const DeliveryTimeline::TurnMark &t : m_model.turns()) {
        if (!t.endType)
            continue;
        const QPointF c(xOf(g, t.endMs - t0), g.stored.center().y());
        if (t.endType == DeliveryTimeline::Done) {
            p.setPen(QPen(pal.color(QPalette::Base), 1.5));
            p.setBrush(Theme::color(Theme::Ok, pal));
            p.drawEllipse(c, 5.5, 5.5);
        } else {
            p.setPen(QPen(Theme::color(Theme::Error, pal), 2.5));
            p.drawLine(c + QPointF(-5, -5), c + QPointF(5, 5));
            p.drawLine(c + QPointF(-5, 5), c + QPointF(5, -5));
        }
    }
    // Events a verification found different from the full replay: a marker above the lanes.
    p.setPen(Qt::NoPen);
    p.setBrush(Theme::color(Theme::Error, pal));
    for (const EventId &id : m_model.differing()) {
        const double x = xOf(g, qint64(id.ms) - t0);
        QPainterPath tri;
        tri.moveTo(x - 5, g.plot.top() - 9);
        tri.lineTo(x + 5, g.plot.top() - 9);
        tri.lineTo(x, g.plot.top() - 1);
        tri.closeSubpath();
        p.drawPath(tri);
    }
    ++m_paints;
    m_lastPaintUs = clock.nsecsElapsed() / 1000;
    m_longestPaintUs = std::max(m_longestPaintUs, m_lastPaintUs);
}

QString TimelineView::relative(qint64 absoluteMs) const
{
    return QStringLiteral("+%1 s").arg(double(absoluteMs - m_model.originMs()) / 1000.0, 0, 'f', 3);
}

QString TimelineView::eventText(const DeliveryTimeline::Bin &b) const
{
    if (b.count == 1)
        return tr("id %1\n%2 \u00b7 connection #%3\nstored at %4 \u00b7 delay %5")
            .arg(QString::fromLatin1(b.first().toText()), types(b.types))
            .arg(b.lastConnection)
            .arg(relative(qint64(b.firstMs)), duration(b.minDelayMs));
    const QString connections = b.firstConnection == b.lastConnection ? QStringLiteral("#%1").arg(b.lastConnection)
                                                                      : QStringLiteral("#%1\u2013#%2").arg(b.firstConnection).arg(b.lastConnection);
    return tr("%1 events: ids %2 \u2026 %3\n%4 \u00b7 connection %5\nstored %6 \u2026 %7 \u00b7 delay %8 \u2013 %9 (mean %10)")
        .arg(b.count)
        .arg(QString::fromLatin1(b.first().toText()), QString::fromLatin1(b.last().toText()), types(b.types), connections,
             relative(qint64(b.firstMs)), relative(qint64(b.lastMs)), duration(b.minDelayMs), duration(b.maxDelayMs))
        .arg(duration(b.sumDelayMs / qint64(b.count)));
}

QString TimelineView::bandText(const DeliveryTimeline::Band &b) const
{
    const QString reason = b.reason < m_model.reasons().size() ? m_model.reasons().at(b.reason) : QString();
    QString text;
    if (b.toMs < 0)
        text = tr("Disconnected (%1) at %2: not resumed yet").arg(reason, relative(b.fromMs));
    else if (b.resumedConnection == 0)
        text = tr("Disconnected (%1) at %2: not resumed").arg(reason, relative(b.fromMs));
    else
        text = tr("Disconnected for %1 (%2)\nconnection #%3 dropped at %4\nresumed at %5 by connection #%6 from cursor %7")
                   .arg(duration(b.toMs - b.fromMs), reason)
                   .arg(b.droppedConnection)
                   .arg(relative(b.fromMs), relative(b.toMs))
                   .arg(b.resumedConnection)
                   .arg(b.cursor.valid ? QString::fromLatin1(b.cursor.toText()) : tr("(start)"));
    if (b.count > 1)
        text += tr("\n(%1 disconnects drawn as one at this scale)").arg(b.count);
    return text;
}

QString TimelineView::toolTipAt(const QPoint &pos) const
{
    if (m_model.events() == 0)
        return {};
    const Geometry g = geometry();
    const qint64 t0 = m_model.originMs();
    for (const EventId &id : m_model.differing())
        if (std::abs(xOf(g, qint64(id.ms) - t0) - pos.x()) <= kHit + 2 && pos.y() < g.stored.top() + 4)
            return tr("Differs from the full replay: %1").arg(QString::fromLatin1(id.toText()));
    if (pos.y() >= g.stored.top() && pos.y() <= g.delay.bottom() + 2) {
        buildColumns(g);
        const bool receivedLane = pos.y() >= g.received.top() - 2 && pos.y() <= g.received.bottom() + 2;
        const Column *best = nullptr;
        for (const Column &c : m_columns) {
            const bool has = receivedLane ? c.received.count > 0 : c.stored.count > 0;
            if (has && std::abs(c.x - pos.x()) <= kHit && (!best || std::abs(c.x - pos.x()) < std::abs(best->x - pos.x())))
                best = &c;
        }
        if (best && receivedLane) {
            const auto &r = best->received;
            return r.count == 1 ? tr("1 event received here on connection #%1").arg(r.lastConnection)
                                : tr("%1 events received here (connection #%2%3)")
                                      .arg(r.count)
                                      .arg(r.firstConnection)
                                      .arg(r.firstConnection == r.lastConnection ? QString() : QStringLiteral("\u2013#%1").arg(r.lastConnection));
        }
        if (best)
            return eventText(best->stored);
    }
    // The band under the mouse, or the nearest one within a few pixels (bands of a burst of
    // drops can be closer than that).
    const DeliveryTimeline::Band *band = nullptr;
    double bandDistance = kHit + 0.5;
    for (const DeliveryTimeline::Band &b : m_model.bands()) {
        const double x0 = xOf(g, b.fromMs - t0);
        const double x1 = std::max(x0 + 2, xOf(g, (b.toMs < 0 ? g.nowMs : b.toMs) - t0));
        const double d = pos.x() < x0 ? x0 - pos.x() : (pos.x() > x1 ? pos.x() - x1 : 0.0);
        if (d <= bandDistance) {
            band = &b;
            bandDistance = d;
        }
    }
    if (band)
        return bandText(*band);
    for (const DeliveryTimeline::TurnMark &t : m_model.turns()) {
        if (std::abs(xOf(g, t.startMs - t0) - pos.x()) <= kHit)
            return tr("Turn %1 started at %2").arg(t.number).arg(relative(t.startMs));
        if (t.endType && std::abs(xOf(g, t.endMs - t0) - pos.x()) <= kHit + 3)
            return tr("Turn %1 ended with %2 at %3").arg(t.number).arg(DeliveryTimeline::typeName(t.endType), relative(t.endMs));
    }
    return {};
}

bool TimelineView::event(QEvent *event)
{
    if (event->type() == QEvent::ToolTip) {
        auto *help = static_cast<QHelpEvent *>(event);
        const QString text = toolTipAt(help->pos());
        if (text.isEmpty()) {
            QToolTip::hideText();
            event->ignore();
        } else {
            QToolTip::showText(help->globalPos(), text, this);
        }
        return true;
    }
    if (event->type() == QEvent::Show)
        scheduleRepaint();
    return QWidget::event(event);
}
