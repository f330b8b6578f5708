#include "StreamClient.h"

#include "StreamVerifier.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>

Q_LOGGING_CATEGORY(lcClient, "agentstreams.ui.client")

StreamClient::StreamClient(QObject *parent)
    : QObject(parent)
    , m_nam(new QNetworkAccessManager(this))
{
    connect(&m_reconnect, &ReconnectTimer::due, this, [this] { openStream(m_cursor.toText()); });
    connect(&m_reconnect, &ReconnectTimer::countdown, this, &StreamClient::reconnectCountdown);
    // Keep-alive comments arrive every 15 s of silence; three missed ones mean a dead peer
    // that the TCP stack has not noticed (a sleeping laptop, a dropped NAT entry).
    m_stall.setSingleShot(true);
    m_stall.setInterval(45000);
    connect(&m_stall, &QTimer::timeout, this, [this] {
        closeReply();
        if (m_terminal)
            return; // a replay that ended but was not closed by the server: nothing is lost
        connectionLost(tr("no data for %1 s").arg(m_stall.interval() / 1000));
    });
    m_chaosTimer.setSingleShot(true);
    connect(&m_chaosTimer, &QTimer::timeout, this, [this] {
        if (!m_chaos || !m_reply || m_terminal)
            return;
        ++m_stats.chaosDrops;
        qCDebug(lcClient) << "chaos: dropping the connection at" << lastEventId();
        closeReply();
        connectionLost(tr("chaos drop"));
    });
}

StreamClient::~StreamClient()
{
    closeReply();
}

void StreamClient::setAutoReconnect(bool on)
{
    m_autoReconnect = on;
    if (!on && m_reconnect.isActive()) {
        m_reconnect.stop();
        setState(State::Disconnected);
    } else if (on && m_state == State::Disconnected && !m_id.isEmpty() && !m_terminal) {
        scheduleReconnect();
    }
}

void StreamClient::setChaos(bool on)
{
    m_chaos = on;
    if (on)
        armChaos();
    else
        m_chaosTimer.stop();
}

void StreamClient::setChaosIntervalMs(int minMs, int maxMs)
{
    m_chaosMinMs = qMax(1, minMs);
    m_chaosMaxMs = qMax(m_chaosMinMs, maxMs);
}

QString StreamClient::stateName(State state)
{
    switch (state) {
    case State::Idle: return tr("Idle");
    case State::Connecting: return tr("Connecting");
    case State::Connected: return tr("Connected");
    case State::Streaming: return tr("Streaming");
    case State::Disconnected: return tr("Disconnected");
    case State::Reconnecting: return tr("Reconnecting");
    case State::Finished: return tr("Finished");
    case State::Failed: return tr("Failed");
    }
    return {};
}

QString StreamClient::stateText() const
{
    if (m_state == State::Reconnecting)
        return tr("Reconnecting in %1 s").arg((reconnectInMs() + 999) / 1000);
    if (m_state == State::Failed && m_errorCode == QLatin1String("cancelled"))
        return tr("Cancelled");
    if (m_state == State::Failed && !m_errorMessage.isEmpty())
        return tr("Failed: %1").arg(m_errorMessage);
    if (m_state == State::Disconnected && !m_lossReason.isEmpty())
        return tr("Disconnected (%1)").arg(m_lossReason);
    return stateName(m_state);
}

bool StreamClient::canFollowUp() const
{
    return !m_id.isEmpty() && m_terminal && m_turnEnded && !m_followUpPending;
}

void StreamClient::reset()
{
    closeReply();
    m_reconnect.stop();
    m_chaosTimer.stop();
    delete m_verifier;
    m_verifier = nullptr;
    m_terminal = false;
    m_terminalState = State::Idle;
    m_turnEnded = false;
    m_followUpPending = false;
    m_id.clear();
    m_cursor = EventId{};
    m_transcript.clear();
    m_received.clear();
    m_stats = Stats{};
    m_errorCode.clear();
    m_errorMessage.clear();
    m_lossReason.clear();
    m_cancelPending = false;
    m_lastVerify = VerifyResult{};
    m_reconnect.resetBackoff();
    setState(State::Idle);
    Q_EMIT statsChanged();
    Q_EMIT cleared();
}

void StreamClient::start(const QString &prompt)
{
    reset();
    QNetworkRequest request = m_endpoint.create();
    qCInfo(lcClient) << "POST" << request.url().toString();
    setState(State::Connecting);
    ++m_stats.connections;
    open(m_nam->post(request, prompt.toUtf8()), Connection::Create);
}

bool StreamClient::followUp(const QString &prompt)
{
    if (!canFollowUp()) {
        qCWarning(lcClient) << "follow-up refused: no conversation whose turn has ended";
        return false;
    }
    closeReply(); // a replay that reached its last terminal event, waiting for the server's close
    m_terminal = false;
    m_terminalState = State::Idle;
    m_followUpPending = true;
    m_errorCode.clear();
    m_errorMessage.clear();
    m_lossReason.clear();
    m_cancelPending = false;
    m_reconnect.resetBackoff();
    ++m_stats.connections;
    Q_EMIT statsChanged();
    setState(State::Connecting);
    qCInfo(lcClient) << "POST follow-up to" << m_id << "after" << lastEventId();
    open(m_nam->post(m_endpoint.messages(m_id), prompt.toUtf8()), Connection::FollowUp);
    return true;
}

void StreamClient::attach(const QByteArray &conversationId)
{
    reset();
    m_id = conversationId;
    Q_EMIT conversationStarted(m_id);
    openStream(QByteArray());
}

void StreamClient::openStream(const QByteArray &cursor)
{
    if (m_id.isEmpty())
        return;
    closeReply();
    m_reconnect.stop();
    const bool resume = !cursor.isEmpty() || m_stats.connections > 0;
    if (resume)
        ++m_stats.reconnects;
    ++m_stats.connections;
    Q_EMIT statsChanged();
    setState(State::Connecting);
    qCDebug(lcClient) << "GET stream" << m_id << "after" << cursor;
    open(m_nam->get(m_endpoint.stream(m_id, cursor)), Connection::Stream, cursor, resume);
}

void StreamClient::open(QNetworkReply *reply, Connection kind, const QByteArray &cursor, bool resume)
{
    m_reply = reply;
    m_connection = kind;
    m_parser = SseParser();
    m_errorBody.clear();
    m_httpStatus = 0;
    m_eventsOnThisConnection = false;
    connect(reply, &QNetworkReply::metaDataChanged, this, &StreamClient::onMetaData);
    connect(reply, &QNetworkReply::readyRead, this, &StreamClient::onReadyRead);
    connect(reply, &QNetworkReply::finished, this, &StreamClient::onFinished);
    m_stall.start();
    Q_EMIT connectionOpened(m_stats.connections, cursor, resume);
}

void StreamClient::closeReply()
{
    m_stall.stop();
    m_chaosTimer.stop();
    if (!m_reply)
        return;
    QNetworkReply *reply = m_reply;
    m_reply = nullptr;
    QObject::disconnect(reply, nullptr, this, nullptr);
    reply->abort();
    reply->deleteLater();
}

void StreamClient::onMetaData()
{
    if (!m_reply)
        return;
    m_httpStatus = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (m_httpStatus < 200 || m_httpStatus >= 300)
        return;
    if (m_id.isEmpty()) {
        m_id = m_reply->rawHeader("x-conversation-id");
        if (m_id.isEmpty()) {
            closeReply();
            fail(QStringLiteral("protocol"), tr("the server sent no x-conversation-id header"));
            return;
        }
        qCInfo(lcClient) << "conversation" << m_id;
        Q_EMIT conversationStarted(m_id);
        if (m_cancelPending)
            sendCancel();
    } else if (m_followUpPending) {
        // The server started the turn: from here a lost connection resumes with GET + cursor.
        m_followUpPending = false;
        m_turnEnded = false;
        if (m_cancelPending)
            sendCancel();
    }
    if (m_state == State::Connecting)
        setState(State::Connected);
}

void StreamClient::onReadyRead()
{
    QNetworkReply *const reply = m_reply;
    if (!reply)
        return;
    if (m_httpStatus == 0)
        onMetaData();
    if (m_httpStatus < 200 || m_httpStatus >= 300) {
        m_errorBody += m_reply->readAll();
        return;
    }
    m_stall.start();
    m_readMs = QDateTime::currentMSecsSinceEpoch();
    const QList<SseEvent> events = m_parser.feed(m_reply->readAll());
    for (const SseEvent &e : events) {
        handleEvent(e);
        if (m_reply != reply)
            break; // a handler closed or replaced the connection (terminal event, reset, refetch)
    }
    if (!events.isEmpty())
        Q_EMIT statsChanged();
}

void StreamClient::handleEvent(const SseEvent &e)
{
    const EventId id = EventId::parse(e.id);
    if (id.valid) {
        if (m_cursor.valid && id <= m_cursor) {
            ++m_stats.duplicates; // replayed or re-sent: already shown
            return;
        }
    }
    if (e.event == "turn" && refetchSkippedTurns(e.data))
        return;
    if (id.valid) {
        m_cursor = id;
    } else if (!e.id.isEmpty()) {
        qCWarning(lcClient) << "event with an unparseable id" << e.id << "(not used as a cursor)";
    }
    if (!m_eventsOnThisConnection) {
        m_eventsOnThisConnection = true;
        m_reconnect.resetBackoff(); // this connection works: the next drop starts from the shortest delay
    }
    ++m_stats.events;
    m_received.append({e.id, e.event, e.data});
    Q_EMIT eventAccepted(e.id, e.event, m_stats.connections, m_readMs);
    if (id.valid)
        Q_EMIT cursorChanged(e.id);

    if (e.event == "message") {
        ++m_stats.messages;
        const QString chunk = m_transcript.appendMessage(e.data);
        if (m_state != State::Streaming)
            setState(State::Streaming);
        Q_EMIT messageReceived(e.id, chunk);
    } else if (e.event == "turn") {
        // A replay goes on past an earlier turn's terminal event: the conversation is live again.
        m_terminal = false;
        m_terminalState = State::Idle;
        m_turnEnded = false;
        m_errorCode.clear();
        m_errorMessage.clear();
        const Turn &t = m_transcript.beginTurn(e.data);
        if (m_state != State::Streaming)
            setState(State::Streaming);
        Q_EMIT turnStarted(t.number, t.prompt);
    } else if (e.event == "done") {
        endTurn();
        m_terminalState = State::Finished;
        setState(State::Finished);
        Q_EMIT finished();
    } else if (e.event == "error") {
        const QJsonObject o = QJsonDocument::fromJson(e.data).object();
        const QString code = o.value(QStringLiteral("code")).toString(QStringLiteral("error"));
        const QString message = o.value(QStringLiteral("message")).toString(QString::fromUtf8(e.data));
        endTurn();
        fail(code, message);
    }
}

void StreamClient::endTurn()
{
    m_terminal = true;
    m_turnEnded = true;
    // A POST streams one turn: the server closes right after it; do not wait for that. A GET
    // replays every turn after the cursor: more may follow in this response until it closes.
    if (m_connection != Connection::Stream)
        closeReply();
}

// A follow-up's POST streams only the new turn. If another client added a turn after our
// cursor, that turn is not in this response: read everything after the cursor instead.
bool StreamClient::refetchSkippedTurns(const QByteArray &turnData)
{
    const int last = m_transcript.lastTurnNumber();
    const int number = Transcript::turnNumber(turnData);
    if (m_connection != Connection::FollowUp || last == 0 || number <= last + 1)
        return false;
    qCInfo(lcClient) << "turn" << number << "follows turn" << last << ": reading the turns in between after" << lastEventId();
    openStream(m_cursor.toText());
    return true;
}

void StreamClient::onFinished()
{
    QNetworkReply *reply = m_reply;
    if (!reply)
        return;
    onReadyRead();
    if (m_reply != reply)
        return; // a terminal event in the last bytes closed it
    const QNetworkReply::NetworkError error = reply->error();
    const QString errorString = reply->errorString();
    m_errorBody += reply->readAll();
    closeReply();
    if (m_terminal) {
        setState(m_terminalState);
        return;
    }
    const int status = m_httpStatus;
    if (status >= 400) {
        QString code;
        const QString message = ApiEndpoint::errorMessage(m_errorBody, &code);
        const bool transient = status >= 500 || status == 429 || status == 408;
        // A refused follow-up started no turn: there is nothing to resume; it can be sent again.
        if (!transient || m_id.isEmpty() || m_followUpPending) {
            fail(code.isEmpty() ? QStringLiteral("http_%1").arg(status) : code, tr("HTTP %1: %2").arg(status).arg(message));
            return;
        }
        connectionLost(tr("HTTP %1").arg(status));
        return;
    }
    if (m_id.isEmpty()) {
        // The run may exist, but without its id there is nothing to resume.
        fail(QStringLiteral("network"), tr("could not start: %1").arg(errorString));
        return;
    }
    if (m_followUpPending) {
        fail(QStringLiteral("network"), tr("could not send the follow-up: %1").arg(errorString));
        return;
    }
    connectionLost(error == QNetworkReply::NoError ? tr("the server closed the stream") : errorString);
}

void StreamClient::disconnect()
{
    if (!m_reply)
        return;
    closeReply();
    connectionLost(tr("disconnected by you"));
}

void StreamClient::connectionLost(const QString &why)
{
    qCInfo(lcClient).noquote() << "connection lost:" << why << "cursor" << lastEventId();
    m_lossReason = why;
    m_parser.reset();
    if (m_id.isEmpty() || m_followUpPending) {
        // Before the server's answer, nothing says a turn started: fail; the prompt can be
        // sent again (a 409 then means it did start; a later retry fetches it, see above).
        fail(QStringLiteral("network"), why);
        return;
    }
    Q_EMIT connectionDropped(m_stats.connections, why); // a resume from the cursor may follow
    setState(State::Disconnected);
    if (m_autoReconnect)
        scheduleReconnect();
}

void StreamClient::scheduleReconnect()
{
    if (m_terminal || m_id.isEmpty())
        return;
    const int delay = m_reconnect.schedule();
    if (delay < 0) {
        fail(QStringLiteral("unreachable"), tr("gave up after %1 attempts to reconnect (%2)").arg(m_reconnect.maxAttempts()).arg(m_lossReason));
        return;
    }
    setState(State::Reconnecting);
    Q_EMIT reconnectCountdown(delay);
}

void StreamClient::resume()
{
    if (m_id.isEmpty() || m_reply || m_terminal)
        return;
    m_reconnect.resetBackoff();
    openStream(m_cursor.toText());
}

void StreamClient::resumeFrom(const QByteArray &cursor)
{
    if (m_id.isEmpty())
        return;
    m_reconnect.resetBackoff();
    openStream(cursor);
}

void StreamClient::fail(const QString &code, const QString &message)
{
    m_reconnect.stop();
    m_terminal = true;
    m_terminalState = State::Failed;
    m_followUpPending = false;
    m_errorCode = code;
    m_errorMessage = message;
    qCInfo(lcClient).noquote() << "failed:" << code << message;
    setState(State::Failed);
    Q_EMIT failed(code, message);
}

void StreamClient::cancel()
{
    if (m_terminal)
        return;
    if (m_id.isEmpty() || m_followUpPending) {
        // Sent once the server has answered (before that there is no run, or no new turn).
        m_cancelPending = m_state == State::Connecting || m_state == State::Connected;
        return;
    }
    sendCancel();
}

void StreamClient::sendCancel()
{
    m_cancelPending = false;
    QNetworkReply *reply = m_nam->post(m_endpoint.cancel(m_id), QByteArray("{}"));
    connect(reply, &QNetworkReply::finished, this, [this, reply] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = reply->readAll();
        const bool ok = status >= 200 && status < 300;
        const QString message = ok ? QJsonDocument::fromJson(body).object().value(QStringLiteral("status")).toString()
                                   : (status ? tr("HTTP %1: %2").arg(status).arg(ApiEndpoint::errorMessage(body)) : reply->errorString());
        Q_EMIT cancelRequested(ok, message);
        // The stream ends with an `error` event "cancelled": fetch it if nobody is listening.
        if (ok && !m_terminal && !m_reply && !m_reconnect.isActive())
            resume();
    });
}

void StreamClient::verify()
{
    if (m_verifier || m_id.isEmpty())
        return;
    m_verifier = new StreamVerifier(m_nam, m_endpoint, this);
    connect(m_verifier, &StreamVerifier::finished, this, [this](const VerifyResult &r) {
        m_verifier->deleteLater();
        m_verifier = nullptr;
        m_lastVerify = r;
        if (r.completed)
            m_stats.gaps = r.missing;
        Q_EMIT statsChanged();
        Q_EMIT verifyFinished(r);
    });
    m_verifier->start(m_id, m_received);
}

void StreamClient::armChaos()
{
    if (!m_chaos || !m_reply || m_terminal || m_state != State::Streaming)
        return;
    m_chaosTimer.start(m_chaosMinMs + int(QRandomGenerator::global()->bounded(m_chaosMaxMs - m_chaosMinMs + 1)));
}

void StreamClient::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    if (state == State::Streaming)
        armChaos(); // chaos drops happen while data flows, at a random moment
    Q_EMIT stateChanged(state);
}
