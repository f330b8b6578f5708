#pragma once

#include "StreamClient.h"

#include <QFrame>

class QLabel;
class QToolButton;
class StateIndicator;

// The strip above the answer: connection state, conversation id (selectable, with a Copy
// button) and the cursor (the last event id, where a reconnect resumes).
//
//   bar->setState(client->state(), client->stateText());
//   bar->setConversationId(id); bar->setCursor(client->lastEventId());
//   connect(bar, &ConversationBar::copied, ...);   // the id went to the clipboard
class ConversationBar : public QFrame
{
    Q_OBJECT
public:
    explicit ConversationBar(QWidget *parent = nullptr);

    void setState(StreamClient::State state, const QString &text);
    void setConversationId(const QString &text);
    void setCursor(const QByteArray &cursor); // empty: "-"
    void setCopyEnabled(bool enabled);

Q_SIGNALS:
    void copied(const QString &id);

private:
    StateIndicator *m_state;
    QLabel *m_id;
    QToolButton *m_copy;
    QLabel *m_cursor;
};
