#include "ConversationBar.h"

#include "StateIndicator.h"

#include <QClipboard>
#include <QGridLayout>
#include <QGuiApplication>
#include <QLabel>
#include <QToolButton>

namespace {
QLabel *caption(const QString &text, QWidget *parent)
{
    auto *l = new QLabel(text.toUpper(), parent);
    l->setProperty("role", "caption"); // styled in Theme::styleSheet
    return l;
}

QFont monospace(const QFont &base)
{
    QFont f = base;
    f.setFamily(QStringLiteral("DejaVu Sans Mono"));
    f.setStyleHint(QFont::Monospace);
    return f;
}
} // namespace

ConversationBar::ConversationBar(QWidget *parent)
    : QFrame(parent)
    , m_state(new StateIndicator(this))
    , m_id(new QLabel(tr("none yet"), this))
    , m_copy(new QToolButton(this))
    , m_cursor(new QLabel(QStringLiteral("-"), this))
{
    setObjectName(QStringLiteral("conversationBar"));
    auto *layout = new QGridLayout(this);
    layout->setContentsMargins(10, 8, 12, 8);
    layout->setHorizontalSpacing(10);
    layout->setVerticalSpacing(2);
    m_state->setObjectName(QStringLiteral("stateIndicator"));
    m_state->setMinimumWidth(190);
    m_id->setObjectName(QStringLiteral("conversationId"));
    m_id->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    m_id->setFont(monospace(m_id->font()));
    m_id->setToolTip(tr("Conversation id (x-conversation-id): select it or use the copy button"));
    m_copy->setObjectName(QStringLiteral("copyIdButton"));
    m_copy->setText(tr("Copy"));
    m_copy->setToolTip(tr("Copy the conversation id to the clipboard"));
    connect(m_copy, &QToolButton::clicked, this, [this] {
        QGuiApplication::clipboard()->setText(m_id->text());
        Q_EMIT copied(m_id->text());
    });
    m_cursor->setObjectName(QStringLiteral("cursorLabel"));
    m_cursor->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    m_cursor->setFont(monospace(m_cursor->font()));
    m_cursor->setToolTip(tr("Id of the last event received: a reconnect resumes strictly after it"));
    m_cursor->setMinimumWidth(m_cursor->fontMetrics().horizontalAdvance(QStringLiteral("0000000000000-000")));
    layout->addWidget(caption(tr("Connection"), this), 0, 0);
    layout->addWidget(m_state, 1, 0);
    layout->addWidget(caption(tr("Conversation"), this), 0, 1, 1, 2);
    layout->addWidget(m_id, 1, 1);
    layout->addWidget(m_copy, 1, 2);
    layout->addWidget(caption(tr("Cursor (last event id)"), this), 0, 3);
    layout->addWidget(m_cursor, 1, 3);
    layout->setColumnStretch(1, 1);
}

void ConversationBar::setState(StreamClient::State state, const QString &text)
{
    m_state->setState(state, text);
}

void ConversationBar::setConversationId(const QString &text)
{
    m_id->setText(text);
}

void ConversationBar::setCursor(const QByteArray &cursor)
{
    m_cursor->setText(cursor.isEmpty() ? QStringLiteral("-") : QString::fromLatin1(cursor));
}

void ConversationBar::setCopyEnabled(bool enabled)
{
    m_copy->setEnabled(enabled);
}
