#include "StateIndicator.h"

#include "Theme.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>

namespace {
constexpr int kDot = 12;
constexpr int kPad = 8;
} // namespace

StateIndicator::StateIndicator(QWidget *parent)
    : QWidget(parent)
    , m_label(new QLabel(this))
{
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(kDot + 2 * kPad, 2, kPad, 2);
    layout->addWidget(m_label);
    QFont f = m_label->font();
    f.setBold(true);
    m_label->setFont(f);
    m_label->setObjectName(QStringLiteral("stateLabel"));
    setState(StreamClient::State::Idle, StreamClient::stateName(StreamClient::State::Idle));
}

QColor StateIndicator::colorFor(StreamClient::State state)
{
    switch (state) {
    case StreamClient::State::Idle: return QColor(0x9a, 0xa0, 0xa6);
    case StreamClient::State::Connecting:
    case StreamClient::State::Connected: return QColor(0x42, 0x85, 0xf4);
    case StreamClient::State::Streaming: return QColor(0x1e, 0xa4, 0x4f);
    case StreamClient::State::Disconnected: return QColor(0xe3, 0x74, 0x00);
    case StreamClient::State::Reconnecting: return QColor(0xf2, 0xa6, 0x00);
    case StreamClient::State::Finished: return QColor(0x13, 0x73, 0xe8);
    case StreamClient::State::Failed: return QColor(0xd9, 0x30, 0x25);
    }
    return Qt::gray;
}

void StateIndicator::setState(StreamClient::State state, const QString &text)
{
    m_stateShown = state;
    m_color = colorFor(state);
    m_label->setText(text);
    QPalette p = m_label->palette();
    p.setColor(QPalette::WindowText, Theme::readable(m_color, palette())); // readable on light and dark
    m_label->setPalette(p);
    update();
}

QString StateIndicator::text() const
{
    return m_label->text();
}

void StateIndicator::changeEvent(QEvent *event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        setState(m_stateShown, m_label->text());
}

void StateIndicator::paintEvent(QPaintEvent *event)
{
    QWidget::paintEvent(event);
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.setPen(Qt::NoPen);
    QColor halo = m_color;
    halo.setAlpha(60);
    const QPointF c(kPad + kDot / 2.0, height() / 2.0);
    p.setBrush(halo);
    p.drawEllipse(c, kDot / 2.0 + 3, kDot / 2.0 + 3);
    p.setBrush(m_color);
    p.drawEllipse(c, kDot / 2.0, kDot / 2.0);
}
