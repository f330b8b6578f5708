#include "PromptArea.h"

#include <QComboBox>
#include <QFile>
#include <QGridLayout>
#include <QLoggingCategory>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>

Q_LOGGING_CATEGORY(lcPrompt, "agentstreams.ui.prompt")

PromptArea::PromptArea(QWidget *parent)
    : QWidget(parent)
    , m_prompt(new QPlainTextEdit(this))
    , m_examples(new QComboBox(this))
    , m_send(new QPushButton(tr("Send"), this))
    , m_followUp(new QPushButton(tr("Follow up"), this))
    , m_cancel(new QPushButton(tr("Cancel run"), this))
{
    auto *layout = new QGridLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setHorizontalSpacing(8);
    layout->setVerticalSpacing(6);
    m_prompt->setObjectName(QStringLiteral("promptEdit"));
    m_prompt->setPlaceholderText(tr("Plan a trip... e.g. \"3 days in Lisbon in May, with a day trip to Sintra\""));
    m_prompt->setTabChangesFocus(true);
    m_prompt->setFixedHeight(m_prompt->fontMetrics().lineSpacing() * 4 + 16);
    m_examples->setObjectName(QStringLiteral("examplesCombo"));
    m_examples->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_examples->setMinimumContentsLength(20);
    connect(m_examples, &QComboBox::activated, this, [this](int index) {
        if (index > 0)
            m_prompt->setPlainText(m_examples->itemData(index).toString());
        m_examples->setCurrentIndex(0);
        m_prompt->setFocus();
    });
    m_send->setObjectName(QStringLiteral("sendButton"));
    m_send->setToolTip(tr("Start a new conversation with this prompt (Ctrl+Enter)"));
    m_send->setDefault(true);
    // Styled by Theme::styleSheet (#sendButton): the palette's highlight colours.
    connect(m_send, &QPushButton::clicked, this, &PromptArea::sendRequested);
    m_followUp->setObjectName(QStringLiteral("followUpButton"));
    m_followUp->setToolTip(tr("Send this prompt as the next turn of the conversation shown (its earlier turns are the history); "
                              "possible once its current turn has ended"));
    connect(m_followUp, &QPushButton::clicked, this, &PromptArea::followUpRequested);
    m_cancel->setObjectName(QStringLiteral("cancelButton"));
    m_cancel->setToolTip(tr("Ask the server to stop the agent; the stream ends with error \"cancelled\""));
    connect(m_cancel, &QPushButton::clicked, this, &PromptArea::cancelRequested);
    for (const auto &key : {QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)}) {
        auto *shortcut = new QShortcut(key, this);
        connect(shortcut, &QShortcut::activated, this, &PromptArea::sendRequested);
    }
    layout->addWidget(m_prompt, 0, 0, 1, 5);
    layout->addWidget(m_examples, 1, 0);
    layout->setColumnStretch(1, 1);
    layout->addWidget(m_cancel, 1, 2);
    layout->addWidget(m_followUp, 1, 3);
    layout->addWidget(m_send, 1, 4);
    loadExamples();
}

QString PromptArea::prompt() const
{
    return m_prompt->toPlainText().trimmed();
}

void PromptArea::setPrompt(const QString &text)
{
    m_prompt->setPlainText(text);
}

void PromptArea::focusPrompt()
{
    m_prompt->setFocus();
}

void PromptArea::setSendEnabled(bool on)
{
    m_send->setEnabled(on);
}

void PromptArea::setFollowUpEnabled(bool on)
{
    m_followUp->setEnabled(on);
}

void PromptArea::setCancelEnabled(bool on)
{
    m_cancel->setEnabled(on);
}

void PromptArea::loadExamples()
{
    m_examples->clear();
    m_examples->addItem(tr("Example prompts..."));
    QFile f(QStringLiteral(":/examples.txt"));
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) {
        qCWarning(lcPrompt) << "no examples resource";
        return;
    }
    for (const QByteArray &raw : f.readAll().split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(QLatin1Char('#')))
            continue;
        const QString label = line.size() > 70 ? line.left(67) + QStringLiteral("...") : line;
        m_examples->addItem(label, line);
    }
}
