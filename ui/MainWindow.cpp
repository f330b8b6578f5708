#include "MainWindow.h"

#include "AnswerView.h"
#include "ConversationBar.h"
#include "IntegrityPanel.h"
#include "PromptArea.h"
#include "ServerSettingsDialog.h"
#include "Theme.h"
#include "TimelinePanel.h"

#include <QApplication>
#include <QCheckBox>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QLoggingCategory>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QVBoxLayout>

Q_LOGGING_CATEGORY(lcWindow, "agentstreams.ui.window")

// Q_INIT_RESOURCE must be used from the global namespace.
static void initResources()
{
    Q_INIT_RESOURCE(resources);
}


MainWindow::MainWindow(QWidget *parent)
    : QMainWindow(parent)
    , m_client(new StreamClient(this))
    , m_history(new ConversationHistory(this))
    , m_server(ServerSettings::load())
{
    initResources();
    static const QString theme = Theme::applyEnvironment(); // once per process, before any widget polishes
    qCDebug(lcWindow) << "palette:" << theme;
    setWindowTitle(tr("Agent Streams"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/agent-streams.png")));

    auto *main = new QWidget(this);
    auto *mainLayout = new QVBoxLayout(main);
    mainLayout->setContentsMargins(12, 12, 6, 12);
    mainLayout->setSpacing(10);
    m_banner = new QLabel(main);
    m_banner->setObjectName(QStringLiteral("banner"));
    m_banner->setWordWrap(true);
    m_banner->hide();
    mainLayout->addWidget(m_banner);
    m_promptArea = new PromptArea(main);
    connect(m_promptArea, &PromptArea::sendRequested, this, &MainWindow::send);
    connect(m_promptArea, &PromptArea::followUpRequested, this, &MainWindow::followUp);
    connect(m_promptArea, &PromptArea::cancelRequested, m_client, &StreamClient::cancel);
    mainLayout->addWidget(m_promptArea);
    m_bar = new ConversationBar(main);
    connect(m_bar, &ConversationBar::copied, this, [this](const QString &id) { statusBar()->showMessage(tr("Copied %1").arg(id), 3000); });
    mainLayout->addWidget(m_bar);
    m_answer = new AnswerView(main);
    m_answer->setObjectName(QStringLiteral("answerView"));
    auto *answerFrame = new QFrame(main);
    answerFrame->setObjectName(QStringLiteral("answerFrame"));
    auto *answerLayout = new QVBoxLayout(answerFrame);
    answerLayout->setContentsMargins(1, 1, 1, 1);
    answerLayout->addWidget(m_answer);
    m_timeline = new TimelinePanel(main);
    m_timeline->setClient(m_client);
    auto *answerSplitter = new QSplitter(Qt::Vertical, main);
    answerSplitter->addWidget(answerFrame);
    answerSplitter->addWidget(m_timeline);
    answerSplitter->setStretchFactor(0, 1);
    answerSplitter->setStretchFactor(1, 0);
    answerSplitter->setSizes({600, 190});
    answerSplitter->setChildrenCollapsible(false);
    mainLayout->addWidget(answerSplitter, 1);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(main);
    splitter->addWidget(buildSidePanel());
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 0);
    splitter->setChildrenCollapsible(false);
    setCentralWidget(splitter);

    m_serverLabel = new QLabel(this);
    m_serverLabel->setObjectName(QStringLiteral("serverLabel"));
    statusBar()->addPermanentWidget(m_serverLabel);
    buildMenus();

    m_refresh.setSingleShot(true);
    connect(&m_refresh, &QTimer::timeout, this, &MainWindow::refresh);
    auto contentChanged = [this] {
        m_contentDirty = true;
        scheduleRefresh();
    };
    connect(m_client, &StreamClient::messageReceived, this, contentChanged);
    connect(m_client, &StreamClient::turnStarted, this, contentChanged);
    connect(m_client, &StreamClient::statsChanged, this, &MainWindow::scheduleRefresh);
    connect(m_client, &StreamClient::stateChanged, this, &MainWindow::onStateChanged);
    connect(m_client, &StreamClient::reconnectCountdown, this, [this] { m_bar->setState(m_client->state(), m_client->stateText()); });
    connect(m_client, &StreamClient::conversationStarted, this, [this](const QByteArray &id) {
        m_bar->setConversationId(QString::fromUtf8(id));
        if (!m_lastPrompt.isEmpty())
            m_history->add({id, m_lastPrompt, m_server.embedded ? QString() : m_server.remoteUrl.toString(), QDateTime::currentDateTime()});
        m_lastPrompt.clear();
        updateActions();
    });
    connect(m_client, &StreamClient::verifyFinished, this, [this](const VerifyResult &r) {
        m_integrity->setResult(r);
        statusBar()->showMessage(r.summary, 10000);
        updateActions();
    });
    connect(m_client, &StreamClient::cancelRequested, this, [this](bool ok, const QString &message) {
        statusBar()->showMessage(ok ? tr("Cancel requested (%1)").arg(message) : tr("Cancel failed: %1").arg(message), 8000);
    });
    connect(m_history, &ConversationHistory::changed, this, &MainWindow::rebuildHistoryList);

    rebuildHistoryList();
    applyTheme();
    showWelcome();
    applyServer();
    onStateChanged();
    resize(1240, 860);
}

QWidget *MainWindow::buildSidePanel()
{
    auto *panel = new QWidget(this);
    panel->setMinimumWidth(300);
    panel->setMaximumWidth(420);
    auto *layout = new QVBoxLayout(panel);
    layout->setContentsMargins(6, 12, 12, 12);
    layout->setSpacing(10);

    auto *connection = new QGroupBox(tr("Connection"), panel);
    auto *cl = new QGridLayout(connection);
    m_disconnect = new QPushButton(tr("Disconnect"), connection);
    m_disconnect->setObjectName(QStringLiteral("disconnectButton"));
    m_disconnect->setToolTip(tr("Drop the connection like a network loss; the run goes on on the server"));
    connect(m_disconnect, &QPushButton::clicked, m_client, &StreamClient::disconnect);
    m_resume = new QPushButton(tr("Resume"), connection);
    m_resume->setObjectName(QStringLiteral("resumeButton"));
    m_resume->setToolTip(tr("Reconnect now from the cursor"));
    connect(m_resume, &QPushButton::clicked, m_client, &StreamClient::resume);
    m_autoReconnect = new QCheckBox(tr("Reconnect automatically (with backoff)"), connection);
    m_autoReconnect->setObjectName(QStringLiteral("autoReconnectCheck"));
    m_autoReconnect->setChecked(m_client->autoReconnect());
    connect(m_autoReconnect, &QCheckBox::toggled, m_client, &StreamClient::setAutoReconnect);
    m_chaos = new QCheckBox(tr("Chaos: drop the connection at random"), connection);
    m_chaos->setObjectName(QStringLiteral("chaosCheck"));
    m_chaos->setToolTip(tr("While streaming, abort the connection every 0.4-2 s; auto-reconnect resumes from the cursor"));
    connect(m_chaos, &QCheckBox::toggled, this, [this](bool on) {
        m_client->setChaos(on);
        if (on)
            m_autoReconnect->setChecked(true); // chaos without reconnects would just stop
    });
    cl->addWidget(m_disconnect, 0, 0);
    cl->addWidget(m_resume, 0, 1);
    cl->addWidget(m_autoReconnect, 1, 0, 1, 2);
    cl->addWidget(m_chaos, 2, 0, 1, 2);
    layout->addWidget(connection);

    m_integrity = new IntegrityPanel(panel);
    connect(m_integrity, &IntegrityPanel::verifyRequested, this, [this] {
        m_integrity->setVerifying(true);
        m_client->verify();
    });
    layout->addWidget(m_integrity);

    auto *past = new QGroupBox(tr("Conversations"), panel);
    auto *pl = new QVBoxLayout(past);
    m_historyList = new QListWidget(past);
    m_historyList->setObjectName(QStringLiteral("historyList"));
    m_historyList->setAlternatingRowColors(true);
    m_historyList->setWordWrap(true);
    m_historyList->setToolTip(tr("Double-click to replay a conversation from its start (while the server keeps it)"));
    connect(m_historyList, &QListWidget::itemDoubleClicked, this, &MainWindow::replaySelected);
    connect(m_historyList, &QListWidget::itemSelectionChanged, this, &MainWindow::updateActions);
    m_replay = new QPushButton(tr("Replay / re-attach"), past);
    m_replay->setObjectName(QStringLiteral("replayButton"));
    connect(m_replay, &QPushButton::clicked, this, &MainWindow::replaySelected);
    m_forget = new QPushButton(tr("Forget"), past);
    connect(m_forget, &QPushButton::clicked, this, [this] {
        if (QListWidgetItem *item = m_historyList->currentItem())
            m_history->remove(item->data(Qt::UserRole).toByteArray());
    });
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_replay, 1);
    buttons->addWidget(m_forget);
    pl->addWidget(m_historyList);
    pl->addLayout(buttons);
    layout->addWidget(past, 1);
    return panel;
}

void MainWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Server..."), this, &MainWindow::editServer);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu *stream = menuBar()->addMenu(tr("&Stream"));
    stream->addAction(tr("&Send"), this, &MainWindow::send);
    stream->addAction(tr("&Disconnect"), m_client, &StreamClient::disconnect);
    stream->addAction(tr("&Resume"), m_client, &StreamClient::resume);
    stream->addAction(tr("&Verify"), m_integrity, &IntegrityPanel::verifyRequested);
    stream->addAction(tr("&Cancel run"), m_client, &StreamClient::cancel);
    QMenu *view = menuBar()->addMenu(tr("&View"));
    m_timelineAction = view->addAction(tr("Delivery &timeline"));
    m_timelineAction->setObjectName(QStringLiteral("timelineAction"));
    m_timelineAction->setCheckable(true);
    m_timelineAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
    m_timelineAction->setChecked(QSettings().value(QStringLiteral("window/timeline"), true).toBool());
    m_timeline->setVisible(m_timelineAction->isChecked());
    connect(m_timelineAction, &QAction::toggled, this, [this](bool on) {
        m_timeline->setVisible(on);
        QSettings().setValue(QStringLiteral("window/timeline"), on);
    });
    connect(m_timeline, &TimelinePanel::hideRequested, m_timelineAction, [this] { m_timelineAction->setChecked(false); });
    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About Agent Streams"),
                           tr("<b>Agent Streams %1</b><p>AI agents run in the background; their answers stream through Redis "
                              "Streams over HTTP, so clients can disconnect and resume without losing a chunk.</p>")
                               .arg(QCoreApplication::applicationVersion()));
    });
}

void MainWindow::setEmbeddedServer(const QUrl &url)
{
    m_embeddedUrl = url;
    applyServer();
}

void MainWindow::showBackendError(const QString &message)
{
    m_banner->setText(tr("<b>The embedded server could not start:</b> %1<br>Choose a remote server in File &gt; Server...")
                          .arg(message.toHtmlEscaped()));
    m_banner->show();
    qCWarning(lcWindow).noquote() << "backend failed:" << message;
}

void MainWindow::setAutoSendPrompt(const QString &prompt)
{
    m_autoSend = prompt;
    m_promptArea->setPrompt(prompt);
    if (m_client->endpoint().isValid())
        QTimer::singleShot(0, this, &MainWindow::send);
}

void MainWindow::setChaosEnabled(bool on)
{
    m_chaos->setChecked(on);
}

void MainWindow::applyServer()
{
    const bool useEmbedded = m_server.embedded || !m_server.remoteUrl.isValid();
    m_client->setEndpoint(useEmbedded ? ApiEndpoint(m_embeddedUrl) : ApiEndpoint(m_server.remoteUrl, m_server.apiKey));
    if (useEmbedded)
        m_serverLabel->setText(m_embeddedUrl.isEmpty() ? tr("Embedded server: starting...")
                                                       : tr("Embedded server: %1").arg(m_embeddedUrl.toString()));
    else
        m_serverLabel->setText(tr("Remote server: %1%2").arg(m_server.remoteUrl.toString(), m_server.apiKey.isEmpty() ? QString() : tr(" (API key)")));
    updateActions();
    if (!m_autoSend.isEmpty() && m_client->endpoint().isValid())
        QTimer::singleShot(0, this, &MainWindow::send);
}

void MainWindow::editServer()
{
    ServerSettingsDialog dialog(m_server, m_embeddedUrl, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    m_server = dialog.settings();
    m_server.save();
    applyServer();
}

void MainWindow::send()
{
    const QString prompt = m_promptArea->prompt();
    m_autoSend.clear();
    if (prompt.isEmpty()) {
        statusBar()->showMessage(tr("Type a prompt first"), 4000);
        m_promptArea->focusPrompt();
        return;
    }
    if (!m_client->endpoint().isValid()) {
        statusBar()->showMessage(tr("The server is not available yet"), 4000);
        return;
    }
    m_lastPrompt = prompt;
    m_integrity->clearResult();
    m_bar->setConversationId(tr("starting..."));
    m_answer->showMarkdown(QString());
    m_client->start(prompt);
}

void MainWindow::followUp()
{
    const QString prompt = m_promptArea->prompt();
    if (prompt.isEmpty()) {
        statusBar()->showMessage(tr("Type the follow-up prompt first"), 4000);
        m_promptArea->focusPrompt();
        return;
    }
    if (!m_client->followUp(prompt)) {
        statusBar()->showMessage(tr("A follow-up needs a conversation whose turn has ended"), 4000);
        return;
    }
    m_integrity->clearResult(); // the earlier turns stay in the view; the new one is appended
}

void MainWindow::attach(const QByteArray &conversationId)
{
    m_lastPrompt.clear();
    m_integrity->clearResult();
    m_answer->showMarkdown(QString());
    m_client->attach(conversationId);
}

void MainWindow::replaySelected()
{
    if (QListWidgetItem *item = m_historyList->currentItem())
        attach(item->data(Qt::UserRole).toByteArray());
}

void MainWindow::scheduleRefresh()
{
    if (m_refresh.isActive())
        return;
    // 50 ms feels live; if a render gets expensive (long answers), render less often so
    // that the event loop keeps most of its time for input and the network.
    m_refresh.start(qBound(50, 3 * m_answer->lastRenderMs(), 500));
}

void MainWindow::refresh()
{
    m_refresh.stop();
    if (m_contentDirty) {
        m_contentDirty = false;
        m_answer->showMarkdown(Transcript::markdown(m_client->turns()));
    }
    m_bar->setCursor(m_client->lastEventId());
    m_integrity->setStats(m_client->stats());
    updateActions();
}

void MainWindow::showWelcome()
{
    const QPalette &p = palette();
    m_answer->showPlaceholder(tr("<div style='color:%1; margin:24px'><h2 style='color:%2'>Ask the travel planner</h2>"
                                 "<p>Type a prompt above (or pick an example) and press <b>Send</b> (Ctrl+Enter). "
                                 "When the answer has ended, <b>Follow up</b> sends the next prompt in the same conversation.</p>"
                                 "<p>The answer streams through a Redis Stream. Disconnect at any time, or switch on "
                                 "<b>Chaos</b>: the client resumes from its last cursor and no chunk is lost or repeated; "
                                 "the timeline below shows every event, connection and resume. "
                                 "<b>Verify</b> proves it against a full replay.</p></div>")
                                  .arg(Theme::color(Theme::Muted, p).name(), p.color(QPalette::Text).name()));
}

void MainWindow::applyTheme()
{
    const QString sheet = Theme::styleSheet(palette());
    if (sheet != styleSheet())
        setStyleSheet(sheet); // one style sheet for the window, built from the palette in force
}

void MainWindow::changeEvent(QEvent *event)
{
    QMainWindow::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        applyTheme();
        if (m_client->state() == StreamClient::State::Idle)
            showWelcome();
    }
}

void MainWindow::onStateChanged()
{
    const StreamClient::State state = m_client->state();
    m_bar->setState(state, m_client->stateText());
    // Show the last chunk now, not after the next tick. A replay (GET) of many turns ends each
    // of them on a connection that stays open, often within one read: render once that read is
    // handled, not once per turn (24 turns took 24 full renders, an 11 s stall, before).
    if (state == StreamClient::State::Finished || state == StreamClient::State::Failed || state == StreamClient::State::Disconnected) {
        if (m_client->isConnected())
            m_refresh.start(0);
        else
            refresh();
    }
    if (state == StreamClient::State::Idle)
        m_bar->setCursor({});
    updateActions();
}

void MainWindow::updateActions()
{
    const bool hasId = !m_client->conversationId().isEmpty();
    const bool terminal = m_client->isTerminal();
    const StreamClient::State state = m_client->state();
    const bool idle = state == StreamClient::State::Idle;
    m_promptArea->setSendEnabled(m_client->endpoint().isValid());
    m_promptArea->setFollowUpEnabled(m_client->endpoint().isValid() && m_client->canFollowUp());
    m_promptArea->setCancelEnabled(!idle && !terminal);
    m_disconnect->setEnabled(m_client->isConnected());
    m_resume->setEnabled(hasId && !terminal && !m_client->isConnected());
    m_integrity->setVerifyEnabled(hasId && !m_client->isVerifying() && m_client->stats().events > 0);
    m_bar->setCopyEnabled(hasId);
    m_replay->setEnabled(m_historyList->currentItem() != nullptr && m_client->endpoint().isValid());
    m_forget->setEnabled(m_historyList->currentItem() != nullptr);
}

void MainWindow::rebuildHistoryList()
{
    const QByteArray selected = m_historyList->currentItem() ? m_historyList->currentItem()->data(Qt::UserRole).toByteArray() : QByteArray();
    m_historyList->clear();
    for (const ConversationHistory::Entry &e : m_history->entries()) {
        QString prompt = e.prompt.simplified();
        if (prompt.size() > 60)
            prompt = prompt.left(57) + QStringLiteral("...");
        const QString when = QLocale().toString(e.created, QLocale::ShortFormat);
        auto *item = new QListWidgetItem(QStringLiteral("%1\n%2 - ...%3").arg(prompt.isEmpty() ? tr("(attached)") : prompt, when,
                                                                              QString::fromUtf8(e.id.right(8))),
                                         m_historyList);
        item->setData(Qt::UserRole, e.id);
        item->setToolTip(QStringLiteral("%1\n%2%3").arg(QString::fromUtf8(e.id), e.prompt,
                                                        e.server.isEmpty() ? QString() : QStringLiteral("\n") + e.server));
        if (e.id == selected)
            m_historyList->setCurrentItem(item);
    }
    updateActions();
}
