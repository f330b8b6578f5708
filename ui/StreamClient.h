#pragma once

#include "ApiEndpoint.h"
#include "Backoff.h"
#include "EventId.h"
#include "ReceivedEvent.h"
#include "SseParser.h"
#include "VerifyResult.h"

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

class QNetworkAccessManager;
#include <QNetworkReply>
class StreamVerifier;

// An HTTP client of the Agent Streams API that never loses a chunk: it starts a run
// (POST /api/agent/create) or attaches to one (GET /api/agent/stream/{id}), remembers the id
// of the last event it accepted, and when the connection drops it reconnects with backoff
// from that cursor. Events at or before the cursor are dropped as duplicates (and counted).
// Talks HTTP only; knows nothing of the backend's code.
//
//   StreamClient c;
//   c.setEndpoint(ApiEndpoint(QUrl("http://127.0.0.1:7071")));
//   connect(&c, &StreamClient::messageReceived, ...);   // one signal per accepted chunk
//   connect(&c, &StreamClient::stateChanged, ...);      // Connecting .. Streaming .. Finished
//   c.start("Plan 3 days in Lisbon");
//   c.disconnect();   // drop the connection like a network loss (auto-reconnect resumes)
//   c.verify();       // replay from the start with a second request and compare
//
// Signals: conversationStarted, turnStarted, messageReceived, cursorChanged, statsChanged,
// stateChanged, reconnectCountdown, finished, failed, cancelRequested, verifyFinished.
class StreamClient : public QObject
{
    Q_OBJECT
public:
    enum class State { Idle, Connecting, Connected, Streaming, Disconnected, Reconnecting, Finished, Failed };
    Q_ENUM(State)

    struct Turn
    {
        int number = 0;
        QString prompt;
        QString text;
    };
    struct Stats
    {
        int events = 0;     // accepted events of every type
        int messages = 0;   // accepted `message` events
        int connections = 0;
        int reconnects = 0; // connections opened to resume (automatic or manual)
        int duplicates = 0; // events at or before the cursor, dropped
        int gaps = 0;       // events the last verification found missing
        int chaosDrops = 0;
    };

    explicit StreamClient(QObject *parent = nullptr);
    ~StreamClient() override;

    void setEndpoint(const ApiEndpoint &endpoint) { m_endpoint = endpoint; }
    ApiEndpoint endpoint() const { return m_endpoint; }
    QNetworkAccessManager *network() const { return m_nam; }

    void setAutoReconnect(bool on);
    bool autoReconnect() const { return m_autoReconnect; }
    void setChaos(bool on);
    bool chaos() const { return m_chaos; }
    void setChaosIntervalMs(int minMs, int maxMs);
    void setReconnectDelays(int initialMs, int maxMs) { m_backoff.setDelays(initialMs, maxMs); }
    void setMaxReconnectAttempts(int n) { m_maxAttempts = n; }
    void setStallTimeoutMs(int ms) { m_stall.setInterval(ms); }

    State state() const { return m_state; }
    QString stateText() const;
    static QString stateName(State state);
    bool isTerminal() const { return m_terminal; }
    bool isConnected() const { return m_reply != nullptr; }
    int reconnectInMs() const;
    QByteArray conversationId() const { return m_id; }
    QByteArray lastEventId() const { return m_cursor.toText(); }
    QString text() const; // every message chunk accepted, concatenated (all turns)
    const QList<Turn> &turns() const { return m_turns; }
    Stats stats() const { return m_stats; }
    const ReceivedEvents &received() const { return m_received; }
    QString errorCode() const { return m_errorCode; }
    QString errorMessage() const { return m_errorMessage; }
    bool isVerifying() const { return m_verifier != nullptr; }
    VerifyResult lastVerifyResult() const { return m_lastVerify; }

public Q_SLOTS:
    void start(const QString &prompt);
    void attach(const QByteArray &conversationId); // replay from the start, then follow live
    void resume();                                 // reconnect now from the cursor
    void resumeFrom(const QByteArray &cursor);     // reconnect from an older cursor (replayed events are duplicates)
    void disconnect();                             // abort the connection like a network loss
    void cancel();                                 // POST /cancel; the stream then ends with error "cancelled"
    void verify();
    void reset();                                  // forget the conversation, close everything

Q_SIGNALS:
    void stateChanged(StreamClient::State state);
    void conversationStarted(const QByteArray &conversationId);
    void turnStarted(int turn, const QString &prompt);
    void messageReceived(const QByteArray &id, const QString &text);
    void cursorChanged(const QByteArray &id);
    void statsChanged();
    void reconnectCountdown(int msLeft);
    void finished();
    void failed(const QString &code, const QString &message);
    void cancelRequested(bool ok, const QString &message);
    void verifyFinished(const VerifyResult &result);

private:
    void open(QNetworkReply *reply);
    void openStream(const QByteArray &cursor);
    void closeReply();
    void onMetaData();
    void onReadyRead();
    void onFinished();
    void handleEvent(const SseEvent &e);
    void connectionLost(const QString &why);
    void fail(const QString &code, const QString &message);
    void scheduleReconnect();
    void armChaos();
    void setState(State state);
    void sendCancel();

    QNetworkAccessManager *m_nam;
    ApiEndpoint m_endpoint;
    QPointer<QNetworkReply> m_reply;
    SseParser m_parser;
    QByteArray m_errorBody;
    int m_httpStatus = 0;
    bool m_eventsOnThisConnection = false;

    State m_state = State::Idle;
    State m_terminalState = State::Idle;
    bool m_terminal = false;
    QByteArray m_id;
    EventId m_cursor;
    QList<Turn> m_turns;
    ReceivedEvents m_received;
    Stats m_stats;
    QString m_errorCode;
    QString m_errorMessage;
    QString m_lossReason;
    bool m_cancelPending = false;

    bool m_autoReconnect = true;
    Backoff m_backoff{1000, 15000};
    int m_maxAttempts = 20;
    QTimer m_reconnect;
    QTimer m_countdown;
    QElapsedTimer m_reconnectClock;
    QTimer m_stall;

    bool m_chaos = false;
    int m_chaosMinMs = 400;
    int m_chaosMaxMs = 2000;
    QTimer m_chaosTimer;

    StreamVerifier *m_verifier = nullptr;
    VerifyResult m_lastVerify;
};
