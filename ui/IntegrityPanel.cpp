#include "IntegrityPanel.h"

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
    m_gaps->setStyleSheet(stats.gaps > 0 ? QStringLiteral("color: #d93025; font-weight: bold;") : QString());
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
    const QString color = result.ok ? QStringLiteral("#1e8e3e") : QStringLiteral("#d93025");
    m_result->setText(QStringLiteral("<span style='color:%1; font-weight:600'>%2</span>").arg(color, result.summary.toHtmlEscaped()));
}

void IntegrityPanel::clearResult()
{
    m_result->setText(QStringLiteral("<span style='color:#80868b'>%1</span>").arg(tr("Not verified yet")));
}

QString IntegrityPanel::resultText() const
{
    return m_result->text();
}
