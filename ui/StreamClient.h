#pragma once

#include "ApiEndpoint.h"
#include "EventId.h"
#include "ReconnectTimer.h"
#include "ReceivedEvent.h"
#include "SseParser.h"
#include "Transcript.h"
#include "VerifyResult.h"

#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

class QNetworkAccessManager;
#include <QNetworkReply>
class StreamVerifier;

// An HTTP client of the Agent Streams API that never loses a chunk: it starts a run
// (POST /api/agent/create), adds a turn to it once a turn has ended (POST
// /api/agent/{id}/messages) or attaches to one (GET /api/agent/stream/{id}), remembers the id
// of the last event it accepted, and when the connection drops it reconnects with backoff
// from that cursor. Events at or before the cursor are dropped as duplicates (and counted).
// Talks HTTP only; knows nothing of the backend's code.
//
//   StreamClient c;
//   c.setEndpoint(ApiEndpoint(QUrl("http://127.0.0.1:7071")));
//   connect(&c, &StreamClient::messageReceived, ...);   // one signal per accepted chunk
//   connect(&c, &StreamClient::stateChanged, ...);      // Connecting .. Streaming .. Finished
//   c.start("Plan 3 days in Lisbon");
//   c.followUp("Add a day in Sintra"); // once canFollowUp(): turn 2 of the same conversation
//   c.disconnect();   // drop the connection like a network loss (auto-reconnect resumes)
//   c.verify();       // replay from the start with a second request and compare
//
// Signals: conversationStarted, turnStarted, messageReceived, cursorChanged, statsChanged,
// stateChanged, reconnectCountdown, finished, failed, cancelRequested, verifyFinished; and for
// a picture of the delivery (TimelinePanel): cleared, connectionOpened, connectionDropped,
// eventAccepted (every accepted event, with the connection that delivered it and when).
// finished() / failed() come once per turn that ends (a replay of several turns, or a
// follow-up that first reads a turn another client added, ends more than one), and failed()
// also when a request fails (e.g. a follow-up refused with 409).
class StreamClient : public QObject
{
    Q_OBJECT
public:
    enum class State { Idle, Connecting, Connected, Streaming, Disconnected, Reconnecting, Finished, Failed };
    Q_ENUM(State)

    using Turn = Transcript::Turn;
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
    void setReconnectDelays(int initialMs, int maxMs) { m_reconnect.setDelays(initialMs, maxMs); }
    void setMaxReconnectAttempts(int n) { m_reconnect.setMaxAttempts(n); }
    void setStallTimeoutMs(int ms) { m_stall.setInterval(ms); }

    State state() const { return m_state; }
    QString stateText() const;
    static QString stateName(State state);
    bool isTerminal() const { return m_terminal; }
    bool isConnected() const { return m_reply != nullptr; }
    int reconnectInMs() const { return m_reconnect.msLeft(); }
    QByteArray conversationId() const { return m_id; }
    QByteArray lastEventId() const { return m_cursor.toText(); }
    QString text() const { return m_transcript.text(); } // every message chunk accepted (all turns)
    const QList<Turn> &turns() const { return m_transcript.turns(); }
    // A conversation is shown and its latest turn ended with a `done` or `error` event (a
    // follow-up refused by the server, e.g. 409, leaves this true: it can be sent again).
    bool canFollowUp() const;
    Stats stats() const { return m_stats; }
    const ReceivedEvents &received() const { return m_received; }
    QString errorCode() const { return m_errorCode; }
    QString errorMessage() const { return m_errorMessage; }
    bool isVerifying() const { return m_verifier != nullptr; }
    VerifyResult lastVerifyResult() const { return m_lastVerify; }

public Q_SLOTS:
    void start(const QString &prompt);
    // The next turn of this conversation (only when canFollowUp(); returns false otherwise).
    // Keeps the id, cursor, stats and turns; streams the new turn like start() does.
    bool followUp(const QString &prompt);
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
    // Delivery, as it happens. Connections are numbered from 1 per conversation (stats().connections
    // at the time); resume = this request resumes after a loss or on demand (stats().reconnects
    // went up), from cursor (empty: from the start).
    void cleared(); // reset(): a new conversation (or none) follows
    void connectionOpened(int connection, const QByteArray &cursor, bool resume);
    void connectionDropped(int connection, const QString &why);
    // After duplicate filtering, before messageReceived/turnStarted/finished/failed of the event.
    // receivedMs: wall-clock ms when the bytes that completed it were read (the clock of the ids).
    void eventAccepted(const QByteArray &id, const QByteArray &type, int connection, qint64 receivedMs);

private:
    // What the open connection streams: a POST streams one turn and ends at its terminal
    // event; a GET may replay several turns and ends when the server closes it.
    enum class Connection { Create, FollowUp, Stream };

    void open(QNetworkReply *reply, Connection kind, const QByteArray &cursor = {}, bool resume = false);
    void openStream(const QByteArray &cursor);
    void closeReply();
    void onMetaData();
    void onReadyRead();
    void onFinished();
    void handleEvent(const SseEvent &e);
    bool refetchSkippedTurns(const QByteArray &turnData);
    void endTurn();
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
    qint64 m_readMs = 0; // when the bytes being parsed were read
    Connection m_connection = Connection::Stream;
    bool m_followUpPending = false; // a follow-up POST has not been answered 2xx yet

    State m_state = State::Idle;
    State m_terminalState = State::Idle;
    bool m_terminal = false;
    bool m_turnEnded = false; // the latest turn's done/error event was accepted
    QByteArray m_id;
    EventId m_cursor;
    Transcript m_transcript;
    ReceivedEvents m_received;
    Stats m_stats;
    QString m_errorCode;
    QString m_errorMessage;
    QString m_lossReason;
    bool m_cancelPending = false;

    bool m_autoReconnect = true;
    ReconnectTimer m_reconnect;
    QTimer m_stall;

    bool m_chaos = false;
    int m_chaosMinMs = 400;
    int m_chaosMaxMs = 2000;
    QTimer m_chaosTimer;

    StreamVerifier *m_verifier = nullptr;
    VerifyResult m_lastVerify;
};
