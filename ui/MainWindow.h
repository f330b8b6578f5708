#pragma once

#include "ConversationHistory.h"
#include "ServerSettings.h"
#include "StreamClient.h"

#include <QMainWindow>
#include <QTimer>
#include <QUrl>

class AnswerView;
class ConversationBar;
class IntegrityPanel;
class PromptArea;
class QCheckBox;
class QLabel;
class QListWidget;
class QPushButton;
class TimelinePanel;

// The desktop client: a prompt editor (Send starts a conversation, Follow up adds a turn to
// the one shown once its turn has ended), the live answer (every turn) rendered as Markdown, the
// conversation id and cursor, the connection state with Disconnect / Resume / auto-reconnect
// / chaos controls, an integrity panel (counters + Verify) and the list of past
// conversations; below the answer, the delivery timeline (View > Delivery timeline hides it).
// It talks to the server over HTTP through a StreamClient only. Colours and the one style
// sheet come from Theme (the desktop's palette, or AGENT_STREAMS_THEME=dark|light).
//
// Rendering is batched: client signals only mark the view dirty; a timer (50 ms, longer if
// rendering gets expensive) re-renders, so thousands of events cost a few renders a second.
//
//   MainWindow w;                      // app/main.cpp connects the embedded backend:
//   w.setEmbeddedServer(url);          //   Backend::listening -> setEmbeddedServer
//   w.showBackendError(message);       //   Backend::failed    -> showBackendError
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit MainWindow(QWidget *parent = nullptr);

    StreamClient *client() const { return m_client; }
    AnswerView *answerView() const { return m_answer; }
    TimelinePanel *timeline() const { return m_timeline; }
    ConversationHistory *history() const { return m_history; }
    // Sends this prompt as soon as a server is available (demos: --prompt).
    void setAutoSendPrompt(const QString &prompt);
    void setChaosEnabled(bool on); // ticks the Chaos box (and auto-reconnect with it)

protected:
    void changeEvent(QEvent *event) override;

public Q_SLOTS:
    void setEmbeddedServer(const QUrl &url);
    void showBackendError(const QString &message);
    void send();
    void followUp();
    void attach(const QByteArray &conversationId);

private:
    QWidget *buildSidePanel();
    void buildMenus();
    void applyServer();
    void editServer();
    void scheduleRefresh();
    void refresh();
    void showWelcome();
    void applyTheme();
    void onStateChanged();
    void updateActions();
    void rebuildHistoryList();
    void replaySelected();

    StreamClient *m_client;
    ConversationHistory *m_history;
    ServerSettings m_server;
    QUrl m_embeddedUrl;
    QString m_autoSend;
    QString m_lastPrompt;

    QLabel *m_banner = nullptr;
    PromptArea *m_promptArea = nullptr;
    ConversationBar *m_bar = nullptr;
    AnswerView *m_answer = nullptr;
    QPushButton *m_disconnect = nullptr;
    QPushButton *m_resume = nullptr;
    QCheckBox *m_autoReconnect = nullptr;
    QCheckBox *m_chaos = nullptr;
    IntegrityPanel *m_integrity = nullptr;
    QListWidget *m_historyList = nullptr;
    QPushButton *m_replay = nullptr;
    QPushButton *m_forget = nullptr;
    QLabel *m_serverLabel = nullptr;
    TimelinePanel *m_timeline = nullptr;
    QAction *m_timelineAction = nullptr;

    QTimer m_refresh;
    bool m_contentDirty = false;
};
