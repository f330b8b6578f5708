#include "IntegrityPanel.h"

#include "Theme.h"

#include <QEvent>
#include <QStyle>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

IntegrityPanel::IntegrityPanel(QWidget *parent)
    : QGroupBox(tr("Integrity"), parent)
{
    auto *outer = new QVBoxLayout(this);
    m_form = new QFormLayout;
    m_form->setLabelAlignment(Qt::AlignLeft);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    outer->addLayout(m_form);
    m_events = addRow(tr("Events received"), QStringLiteral("eventsValue"));
    m_reconnects = addRow(tr("Reconnects"), QStringLiteral("reconnectsValue"));
    m_duplicates = addRow(tr("Duplicates dropped"), QStringLiteral("duplicatesValue"));
    m_gaps = addRow(tr("Gaps detected"), QStringLiteral("gapsValue"));
    m_chaosDrops = addRow(tr("Chaos drops"), QStringLiteral("chaosDropsValue"));
    m_verify = new QPushButton(tr("Verify against full replay"), this);
    m_verify->setObjectName(QStringLiteral("verifyButton"));
    m_verify->setToolTip(tr("Replays the whole stream from its start with a second request and compares it, event by event, "
                            "with what this window received"));
    connect(m_verify, &QPushButton::clicked, this, &IntegrityPanel::verifyRequested);
    outer->addWidget(m_verify);
    m_result = new QLabel(this);
    m_result->setObjectName(QStringLiteral("verifyResult"));
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
    outer->addWidget(m_result);
    clearResult();
}

QLabel *IntegrityPanel::addRow(const QString &name, const QString &objectName)
{
    auto *value = new QLabel(QStringLiteral("0"), this);
    value->setObjectName(objectName);
    value->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    QFont f = value->font();
    f.setFamily(QStringLiteral("monospace"));
    f.setStyleHint(QFont::Monospace);
    value->setFont(f);
    m_form->addRow(name, value);
    return value;
}

void IntegrityPanel::setStats(const StreamClient::Stats &stats)
{
    m_events->setText(QString::number(stats.events));
    m_reconnects->setText(QString::number(stats.reconnects));
    m_duplicates->setText(QString::number(stats.duplicates));
    m_gaps->setText(QString::number(stats.gaps));
    if (m_gaps->property("alert").toBool() != (stats.gaps > 0)) {
        m_gaps->setProperty("alert", stats.gaps > 0); // Theme::styleSheet: QLabel[alert="true"]
        m_gaps->style()->unpolish(m_gaps);
        m_gaps->style()->polish(m_gaps);
    }
    m_chaosDrops->setText(QString::number(stats.chaosDrops));
}

void IntegrityPanel::setVerifying(bool verifying)
{
    m_verify->setEnabled(!verifying);
    if (verifying)
        m_result->setText(tr("Replaying from the start..."));
}

void IntegrityPanel::setVerifyEnabled(bool enabled)
{
    m_verify->setEnabled(enabled);
}

void IntegrityPanel::setResult(const VerifyResult &result)
{
    m_verify->setEnabled(true);
    m_shown = result;
    m_hasResult = true;
    showResult();
}

void IntegrityPanel::clearResult()
{
    m_hasResult = false;
    showResult();
}

void IntegrityPanel::showResult()
{
    if (!m_result)
        return; // a palette change while the constructor runs
    const QPalette &p = palette();
    if (!m_hasResult) {
        m_result->setText(QStringLiteral("<span style='color:%1'>%2</span>").arg(Theme::color(Theme::Muted, p).name(), tr("Not verified yet")));
        return;
    }
    const QColor color = Theme::color(m_shown.ok ? Theme::Ok : Theme::Error, p);
    m_result->setText(QStringLiteral("<span style='color:%1; font-weight:600'>%2</span>").arg(color.name(), m_shown.summary.toHtmlEscaped()));
}

void IntegrityPanel::changeEvent(QEvent *event)
{
    QGroupBox::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        showResult(); // the colours of the result follow a light / dark switch
}

QString IntegrityPanel::resultText() const
{
    return m_result->text();
}
