// MainWindow under QT_QPA_PLATFORM=offscreen, against the REAL backend (in-process) on a
// REAL redis-server: send, follow up, Disconnect / Resume, Chaos, Verify, history, Ctrl+Enter.
#include "AnswerView.h"
#include "Backend.h"
#include "HttpClient.h"
#include "MainWindow.h"
#include "RedisServer.h"
#include "TestBackend.h"

#include <QCheckBox>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QLoggingCategory>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

namespace {
constexpr int kTimeout = 60000;
}

class TestMainWindow : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();
    void cleanupTestCase();

    void answerViewKeepsTheUsersScrollPosition();
    void waitsForTheServer();
    void sendShowsTheAnswer();
    void ctrlEnterSends();
    void followUpAddsATurnToTheView();
    void disconnectThenResumeContinues();
    void chaosRunEndsIntact();
    void historyReplaysAConversation();

private:
    template<typename T>
    T *child(const char *name) const
    {
        T *w = m_window->findChild<T *>(QString::fromLatin1(name));
        if (!w)
            qFatal("no child %s", name);
        return w;
    }
    QString fullReplayText(const QByteArray &id) const;
    void sendPrompt(const QString &prompt);

    QTemporaryDir m_settingsDir;
    RedisServer m_redis;
    Backend *m_backend = nullptr;
    MainWindow *m_window = nullptr;
};

void TestMainWindow::initTestCase()
{
    // Never touch the user's settings (history, server choice).
    QVERIFY(m_settingsDir.isValid());
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settingsDir.path());
    QCoreApplication::setOrganizationName(QStringLiteral("agent-streams-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_mainwindow"));

    // Warnings stay visible; the per-connection chatter of 20+ reconnects per test does not.
    QLoggingCategory::setFilterRules(QStringLiteral("agentstreams.*.debug=false\nagentstreams.*.info=false"));
    QVERIFY2(m_redis.start(), qPrintable(m_redis.error()));
    Config config;
    config.demoPaceMs = 8;
    QString error;
    m_backend = startTestBackend(config, m_redis.connectionString(), {}, &error).release();
    QVERIFY2(m_backend, qPrintable(error));
}

void TestMainWindow::init()
{
    m_window = new MainWindow;
    m_window->setEmbeddedServer(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_backend->port())));
    m_window->client()->setReconnectDelays(10, 200);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window));
}

void TestMainWindow::cleanup()
{
    delete m_window;
    m_window = nullptr;
}

void TestMainWindow::cleanupTestCase()
{
    if (m_backend)
        m_backend->stop();
    delete m_backend;
}

QString TestMainWindow::fullReplayText(const QByteArray &id) const
{
    HttpClient c;
    c.request(m_backend->port(), "GET", "/api/agent/stream/" + QUrl::toPercentEncoding(QString::fromUtf8(id)), {{"Accept", "text/event-stream"}});
    if (!QTest::qWaitFor([&] { return c.isFinished(); }, kTimeout))
        qWarning("full replay did not finish");
    return QString::fromUtf8(c.messageText());
}

void TestMainWindow::sendPrompt(const QString &prompt)
{
    child<QPlainTextEdit>("promptEdit")->setPlainText(prompt);
    QTest::mouseClick(child<QPushButton>("sendButton"), Qt::LeftButton);
}

void TestMainWindow::answerViewKeepsTheUsersScrollPosition()
{
    AnswerView view;
    view.resize(400, 300);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QString md;
    for (int i = 0; i < 200; ++i)
        md += QStringLiteral("Line %1 of a **long** answer\n\n").arg(i);
    view.showMarkdown(md);
    QScrollBar *bar = view.verticalScrollBar();
    QVERIFY(bar->maximum() > 0);
    QCOMPARE(bar->value(), bar->maximum()); // follows the bottom while streaming
    md += QStringLiteral("more\n\n");
    view.showMarkdown(md);
    QCOMPARE(bar->value(), bar->maximum());

    bar->setValue(bar->maximum() / 3); // the user scrolls up to read
    QVERIFY(!view.followsBottom());
    const int reading = bar->value();
    md += QStringLiteral("even more\n\n");
    view.showMarkdown(md);
    QCOMPARE(bar->value(), reading); // not yanked back down

    bar->setValue(bar->maximum()); // back at the bottom: follow again
    QVERIFY(view.followsBottom());
    md += QStringLiteral("last\n\n");
    view.showMarkdown(md);
    QCOMPARE(bar->value(), bar->maximum());
    QVERIFY(view.toPlainText().endsWith(QStringLiteral("last")));
}

void TestMainWindow::waitsForTheServer()
{
    MainWindow w;
    auto *send = w.findChild<QPushButton *>(QStringLiteral("sendButton"));
    QVERIFY(!send->isEnabled()); // no server yet
    w.showBackendError(QStringLiteral("redis-server not found"));
    QVERIFY(w.findChild<QLabel *>(QStringLiteral("banner"))->text().contains(QStringLiteral("redis-server not found")));
    w.setEmbeddedServer(QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_backend->port())));
    QVERIFY(send->isEnabled());
}

void TestMainWindow::sendShowsTheAnswer()
{
    StreamClient *client = m_window->client();
    sendPrompt(QStringLiteral("Plan 3 days in Lisbon"));
    QTRY_VERIFY_WITH_TIMEOUT(m_window->answerView()->toPlainText().contains(QStringLiteral("Lisbon")), kTimeout);
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), StreamClient::State::Finished, kTimeout);
    const QByteArray id = client->conversationId();
    QCOMPARE(child<QLabel>("conversationId")->text(), QString::fromUtf8(id));
    QCOMPARE(child<QLabel>("cursorLabel")->text(), QString::fromLatin1(client->lastEventId()));
    QCOMPARE(child<QLabel>("stateLabel")->text(), QStringLiteral("Finished"));
    QCOMPARE(child<QLabel>("eventsValue")->text(), QString::number(client->stats().events));
    // The view renders Markdown (headings, bold) of exactly the streamed text.
    QVERIFY(m_window->answerView()->markdown().endsWith(client->text()));
    QVERIFY(!m_window->answerView()->toPlainText().contains(QStringLiteral("**")));
    QCOMPARE(client->text(), fullReplayText(id));
    // Batched: far fewer renders than chunks.
    QVERIFY2(m_window->answerView()->renderCount() < client->stats().messages / 2,
             qPrintable(QStringLiteral("%1 renders for %2 chunks").arg(m_window->answerView()->renderCount()).arg(client->stats().messages)));
    QCOMPARE(m_window->history()->entries().first().id, id);
    QCOMPARE(m_window->history()->entries().first().prompt, QStringLiteral("Plan 3 days in Lisbon"));
}

void TestMainWindow::ctrlEnterSends()
{
    auto *prompt = child<QPlainTextEdit>("promptEdit");
    prompt->setPlainText(QStringLiteral("Two days in Amsterdam"));
    prompt->setFocus();
    QTest::keyClick(prompt, Qt::Key_Return, Qt::ControlModifier);
    QTRY_VERIFY_WITH_TIMEOUT(!m_window->client()->conversationId().isEmpty(), kTimeout);
    QCOMPARE(prompt->toPlainText(), QStringLiteral("Two days in Amsterdam")); // no newline typed
    QTRY_COMPARE_WITH_TIMEOUT(m_window->client()->state(), StreamClient::State::Finished, kTimeout);
}

void TestMainWindow::followUpAddsATurnToTheView()
{
    StreamClient *client = m_window->client();
    auto *followUp = child<QPushButton>("followUpButton");
    QVERIFY(!followUp->isEnabled()); // no conversation yet
    // Sampled at every chunk: the button is never enabled while a turn streams.
    int chunks = 0;
    int enabledWhileStreaming = 0;
    connect(client, &StreamClient::messageReceived, this, [&] {
        ++chunks;
        enabledWhileStreaming += followUp->isEnabled();
    });
    sendPrompt(QStringLiteral("Plan 2 days in Porto"));
    QVERIFY(!followUp->isEnabled());
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), StreamClient::State::Finished, kTimeout);
    QVERIFY(followUp->isEnabled());
    const QByteArray id = client->conversationId();
    const QString turn1 = client->text();
    const int historySize = int(m_window->history()->entries().size());

    child<QPlainTextEdit>("promptEdit")->setPlainText(QStringLiteral("Add a day trip to Braga"));
    QTest::mouseClick(followUp, Qt::LeftButton);
    QVERIFY(!followUp->isEnabled());
    QTRY_COMPARE_WITH_TIMEOUT(client->turns().size(), 2, kTimeout);
    QVERIFY(!followUp->isEnabled());
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), StreamClient::State::Finished, kTimeout);
    QVERIFY(followUp->isEnabled());
    QVERIFY(chunks > 40);
    QCOMPARE(enabledWhileStreaming, 0);

    // The same conversation; the view shows both turns in order, each with its prompt.
    QCOMPARE(client->conversationId(), id);
    QCOMPARE(child<QLabel>("conversationId")->text(), QString::fromUtf8(id));
    QCOMPARE(int(m_window->history()->entries().size()), historySize); // not a new conversation
    const QString turn2 = client->turns().at(1).text;
    QCOMPARE(client->text(), turn1 + turn2);
    QCOMPARE(client->text(), fullReplayText(id));
    const QString md = m_window->answerView()->markdown();
    QVERIFY(md.startsWith(QStringLiteral("> **Turn 1** \u00b7 *")));
    const qsizetype answer1 = md.indexOf(turn1);
    QVERIFY(answer1 > 0 && answer1 < md.indexOf(QStringLiteral("> **Turn 2** \u00b7 *Add a day trip to Braga*")));
    QVERIFY(md.endsWith(turn2));
    const QString shown = m_window->answerView()->toPlainText();
    const qsizetype p1 = shown.indexOf(QStringLiteral("Plan 2 days in Porto"));
    const qsizetype p2 = shown.indexOf(QStringLiteral("Add a day trip to Braga"));
    QVERIFY(p1 >= 0 && p2 > p1);
    QVERIFY(shown.indexOf(QStringLiteral("Here is an update to your plan"), p2) > p2); // turn 2's answer follows it

    QTest::mouseClick(child<QPushButton>("verifyButton"), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>("verifyResult")->text().contains(QStringLiteral("Verified")), kTimeout);
}

void TestMainWindow::disconnectThenResumeContinues()
{
    StreamClient *client = m_window->client();
    child<QCheckBox>("autoReconnectCheck")->setChecked(false);
    QVERIFY(!client->autoReconnect());
    auto *disconnect = child<QPushButton>("disconnectButton");
    // Click Disconnect from inside the 10th chunk's signal: deterministic even when a loaded
    // machine delivers the rest of the run in one read.
    bool clicked = false;
    connect(client, &StreamClient::messageReceived, this, [&] {
        if (!clicked && client->stats().messages >= 10) {
            clicked = true;
            QVERIFY(disconnect->isEnabled());
            QTest::mouseClick(disconnect, Qt::LeftButton);
        }
    });
    sendPrompt(QStringLiteral("Plan 5 days in Kyoto"));
    QTRY_VERIFY_WITH_TIMEOUT(clicked, kTimeout);
    QCOMPARE(client->state(), StreamClient::State::Disconnected);
    QVERIFY(child<QLabel>("stateLabel")->text().startsWith(QStringLiteral("Disconnected")));
    const QString shown = m_window->answerView()->markdown();
    const QString cursor = child<QLabel>("cursorLabel")->text();
    QCOMPARE(cursor, QString::fromLatin1(client->lastEventId()));
    QVERIFY(!disconnect->isEnabled());
    auto *resume = child<QPushButton>("resumeButton");
    QVERIFY(resume->isEnabled());

    // The run completes on the server meanwhile; the window shows nothing new.
    const QString full = fullReplayText(client->conversationId());
    QCOMPARE(m_window->answerView()->markdown(), shown);
    QVERIFY(full.size() > client->text().size());
    QVERIFY(full.startsWith(client->text()));

    QTest::mouseClick(resume, Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), StreamClient::State::Finished, kTimeout);
    QCOMPARE(client->text(), full); // continued exactly where it stopped
    QVERIFY(m_window->answerView()->markdown().endsWith(full));
    QCOMPARE(child<QLabel>("reconnectsValue")->text(), QStringLiteral("1"));
    QCOMPARE(child<QLabel>("duplicatesValue")->text(), QStringLiteral("0"));

    QTest::mouseClick(child<QPushButton>("verifyButton"), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>("verifyResult")->text().contains(QStringLiteral("Verified")), kTimeout);
    QCOMPARE(child<QLabel>("gapsValue")->text(), QStringLiteral("0"));
}

void TestMainWindow::chaosRunEndsIntact()
{
    StreamClient *client = m_window->client();
    child<QCheckBox>("autoReconnectCheck")->setChecked(false);
    child<QCheckBox>("chaosCheck")->setChecked(true);
    QVERIFY(child<QCheckBox>("autoReconnectCheck")->isChecked()); // chaos turns reconnects on
    QVERIFY(client->chaos());
    client->setChaosIntervalMs(30, 150);
    sendPrompt(QStringLiteral("Plan 7 days in Iceland"));
    QTRY_COMPARE_WITH_TIMEOUT(client->state(), StreamClient::State::Finished, kTimeout);
    QVERIFY(client->stats().chaosDrops > 0);
    QCOMPARE(child<QLabel>("chaosDropsValue")->text(), QString::number(client->stats().chaosDrops));
    QCOMPARE(client->text(), fullReplayText(client->conversationId()));
    QVERIFY(m_window->answerView()->markdown().endsWith(client->text()));

    QTest::mouseClick(child<QPushButton>("verifyButton"), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(child<QLabel>("verifyResult")->text().contains(QStringLiteral("Verified")), kTimeout);
    QCOMPARE(child<QLabel>("gapsValue")->text(), QStringLiteral("0"));
    QCOMPARE(client->stats().gaps, 0);
}

void TestMainWindow::historyReplaysAConversation()
{
    // Earlier tests started conversations; a new window (as after a restart) lists them.
    auto *list = child<QListWidget>("historyList");
    QTRY_VERIFY(list->count() >= 1);
    const QByteArray id = m_window->history()->entries().first().id;
    list->setCurrentRow(0);
    QTest::mouseClick(child<QPushButton>("replayButton"), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(m_window->client()->state(), StreamClient::State::Finished, kTimeout);
    QCOMPARE(m_window->client()->conversationId(), id);
    QCOMPARE(m_window->client()->text(), fullReplayText(id));
    QVERIFY(m_window->answerView()->markdown().startsWith(QStringLiteral("> **Turn 1** \u00b7 *")));
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
