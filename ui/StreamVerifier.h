#pragma once

#include "ApiEndpoint.h"
#include "EventId.h"
#include "ReceivedEvent.h"
#include "SseParser.h"
#include "VerifyResult.h"

#include <QObject>
#include <QPointer>
#include <QTimer>

class QNetworkAccessManager;
#include <QNetworkReply>

// Replays a conversation from its start with a second request and compares it with what a
// client received, up to that client's cursor at the time of the call (so it works in the
// middle of a run: the replay is cut as soon as it passes the cursor). Deletes nothing; the
// owner deletes it after finished().
//
//   auto *v = new StreamVerifier(nam, endpoint, this);
//   connect(v, &StreamVerifier::finished, this, [](const VerifyResult &r) { ... });
//   v->start(id, receivedEvents);
class StreamVerifier : public QObject
{
    Q_OBJECT
public:
    StreamVerifier(QNetworkAccessManager *nam, const ApiEndpoint &endpoint, QObject *parent = nullptr);
    ~StreamVerifier() override;

    void start(const QByteArray &conversationId, const ReceivedEvents &received);
    void setTimeoutMs(int ms) { m_timeout.setInterval(ms); }

    // Pure comparison, exposed for tests.
    static VerifyResult compare(const ReceivedEvents &replay, const ReceivedEvents &received);

Q_SIGNALS:
    void finished(const VerifyResult &result);

private:
    void onReadyRead();
    void onFinished();
    void conclude(bool reachedCursor, const QString &failure = {});

    QNetworkAccessManager *m_nam;
    ApiEndpoint m_endpoint;
    QPointer<QNetworkReply> m_reply;
    SseParser m_parser;
    ReceivedEvents m_received;
    ReceivedEvents m_replay;
    EventId m_cursor;
    QTimer m_timeout;
    QByteArray m_errorBody;
    bool m_done = false;
};
