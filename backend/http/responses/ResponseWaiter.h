#pragma once

#include "http/core/RequestContext.h"
#include "http/responses/ResponseEvents.h"
#include "streams/StreamHub.h"

#include <QHttpServerResponder>
#include <QObject>
#include <QPointer>
#include <QTcpSocket>

// POST /v1/responses without background or stream: follows the turn through the hub and
// answers with the Response object once it is complete. Deletes itself when it has answered
// or the client is gone (the run goes on either way).
//
//   (new ResponseWaiter(std::move(responder), context, id, hub))->start(cursor);
class ResponseWaiter : public QObject, public StreamSubscriber
{
    Q_OBJECT
public:
    ResponseWaiter(QHttpServerResponder &&responder, const RequestContext &context, const ResponseId &id, StreamHub *hub);
    ~ResponseWaiter() override;
    void start(const EntryId &after, bool newStream);

    void streamEntries(const QList<EntryView> &entries) override;
    void streamEnded() override;

private:
    void answer();

    QHttpServerResponder m_responder;
    QPointer<QTcpSocket> m_socket;
    RequestContext m_context;
    ResponseId m_id;
    ResponseEvents m_events;
    StreamHub *m_hub;
    bool m_answered = false;
};
