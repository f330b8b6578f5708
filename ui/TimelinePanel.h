#pragma once

#include "VerifyResult.h"

#include <QFrame>
#include <QTimer>

class QLabel;
class QToolButton;
class StreamClient;
class TimelineView;

// The delivery timeline of the conversation a StreamClient shows: a caption with a one-line
// summary (events, connections, resumes, largest delay, what Verify found), a Hide button and
// the TimelineView. Fed only by the client's signals (cleared, connectionOpened,
// connectionDropped, eventAccepted, failed, verifyFinished): it knows nothing of the backend.
//
//   auto *panel = new TimelinePanel(parent);
//   panel->setClient(client);
//   connect(panel, &TimelinePanel::hideRequested, ...);   // the Hide button was clicked
class TimelinePanel : public QFrame
{
    Q_OBJECT
public:
    explicit TimelinePanel(QWidget *parent = nullptr);

    void setClient(StreamClient *client);
    TimelineView *view() const { return m_view; }
    QString summary() const;

Q_SIGNALS:
    void hideRequested();

private:
    void changed();
    void updateSummary();

    TimelineView *m_view;
    QLabel *m_summary;
    QToolButton *m_hide;
    StreamClient *m_client = nullptr;
    QTimer m_summaryTimer;
    VerifyResult m_verify;
    bool m_verified = false;
};
