#include "TimelinePanel.h"

#include "StreamClient.h"
#include "TimelineView.h"

#include <QDateTime>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolButton>
#include <QVBoxLayout>

namespace {
qint64 now()
{
    return QDateTime::currentMSecsSinceEpoch();
}
} // namespace

TimelinePanel::TimelinePanel(QWidget *parent)
    : QFrame(parent)
    , m_view(new TimelineView(this))
    , m_summary(new QLabel(this))
    , m_hide(new QToolButton(this))
{
    setObjectName(QStringLiteral("timelinePanel"));
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(10, 6, 6, 4);
    layout->setSpacing(2);
    auto *header = new QHBoxLayout;
    auto *caption = new QLabel(tr("Delivery timeline").toUpper(), this);
    caption->setProperty("role", "caption");
    caption->setToolTip(tr("One mark per event at the time Redis stored it (its id), coloured by the HTTP connection that "
                           "delivered it; below, when it was received, and the delay in between. Bands are disconnects, "
                           "from the drop to the resume, labelled with the resume's cursor."));
    m_summary->setObjectName(QStringLiteral("timelineSummary"));
    m_summary->setProperty("role", "muted");
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_hide->setObjectName(QStringLiteral("timelineHideButton"));
    m_hide->setText(tr("Hide"));
    m_hide->setAutoRaise(true);
    m_hide->setToolTip(tr("Hide the delivery timeline (View > Delivery timeline shows it again)"));
    connect(m_hide, &QToolButton::clicked, this, &TimelinePanel::hideRequested);
    header->addWidget(caption);
    header->addSpacing(8);
    header->addWidget(m_summary, 1);
    header->addWidget(m_hide);
    layout->addLayout(header);
    layout->addWidget(m_view, 1);

    m_summaryTimer.setSingleShot(true);
    m_summaryTimer.setInterval(100);
    connect(&m_summaryTimer, &QTimer::timeout, this, &TimelinePanel::updateSummary);
    updateSummary();
}

void TimelinePanel::setClient(StreamClient *client)
{
    m_client = client;
    DeliveryTimeline &t = m_view->timeline();
    connect(client, &StreamClient::cleared, this, [this, &t] {
        t.clear();
        m_verified = false;
        changed();
    });
    connect(client, &StreamClient::connectionOpened, this, [this, &t](int connection, const QByteArray &cursor, bool resume) {
        t.connectionOpened(now(), connection, EventId::parse(cursor), resume);
        changed();
    });
    connect(client, &StreamClient::connectionDropped, this, [this, &t](int connection, const QString &why) {
        t.connectionDropped(now(), connection, why);
        changed();
    });
    connect(client, &StreamClient::eventAccepted, this, [this, &t](const QByteArray &id, const QByteArray &type, int connection, qint64 receivedMs) {
        t.addEvent(EventId::parse(id), DeliveryTimeline::typeOf(type), receivedMs, connection);
        changed();
    });
    connect(client, &StreamClient::failed, this, [this, &t] {
        t.endOpenBand(now()); // gave up reconnecting: the band ends, unresumed
        changed();
    });
    connect(client, &StreamClient::verifyFinished, this, [this, &t](const VerifyResult &r) {
        if (!r.completed)
            return;
        m_verify = r;
        m_verified = true;
        t.setDiffering(r.differingIds);
        changed();
    });
}

void TimelinePanel::changed()
{
    m_view->scheduleRepaint();
    if (!m_summaryTimer.isActive())
        m_summaryTimer.start();
}

QString TimelinePanel::summary() const
{
    return m_summary->text();
}

void TimelinePanel::updateSummary()
{
    const DeliveryTimeline &t = m_view->timeline();
    if (t.events() == 0) {
        m_summary->setText(tr("waiting for events"));
        return;
    }
    const auto count = [](qint64 n, const QString &one, const QString &many) { return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many); };
    QString text = count(t.events(), tr("event"), tr("events")) + QStringLiteral(" \u00b7 ") +
                   count(t.connections(), tr("connection"), tr("connections")) + QStringLiteral(" \u00b7 ") +
                   count(t.bandCount(), tr("resume"), tr("resumes")) + QStringLiteral(" \u00b7 ") + tr("delay up to %1 ms").arg(t.maxDelayMs());
    // A verification covers the events up to the cursor at the time (a run may go on).
    if (m_verified)
        text += QStringLiteral(" \u00b7 ") + (t.differingCount() == 0 ? tr("verified: none of %1 differs from a full replay").arg(m_verify.compared)
                                                                     : tr("verified: %1 differ (marked \u25bc)").arg(t.differingCount()));
    m_summary->setText(text);
}
