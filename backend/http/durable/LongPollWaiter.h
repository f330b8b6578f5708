#pragma once

#include "http/durable/DurableMessage.h"
#include "streams/StreamHub.h"

#include <QObject>
#include <QPointer>
#include <QTcpSocket>
#include <QTimer>
#include <functional>

// One live=long-poll read waiting for a stream's next messages, through the hub like every
// other live reader (the writer's acknowledgements and the shared blocking reads): it answers
// once, with the first messages after its offset, the stream's close, or the timeout, and
// deletes itself (also when the client goes away first).
//
//   auto *w = new LongPollWaiter(hub, socket, kind, timeoutMs, parent);
//   w->start(streamId, after, [](const LongPollWaiter::Result &r) {...});
class LongPollWaiter : public QObject, public StreamSubscriber
{
    Q_OBJECT
public:
    struct Result
    {
        QList<QByteArray> payloads;
        EntryId last;        // the last message's id (null: none)
        bool closed = false; // the stream's close came with them (or alone)
        bool timedOut = false;
    };
    using Done = std::function<void(const Result &)>;

    LongPollWaiter(StreamHub *hub, QTcpSocket *socket, DurableMessage::Kind kind, int timeoutMs, QObject *parent);
    ~LongPollWaiter() override;
    void start(const QByteArray &streamId, const EntryId &after, Done done);

    void streamEntries(const QList<EntryView> &entries) override;
    void streamEnded() override;

private:
    void finish();

    StreamHub *m_hub;
    QPointer<QTcpSocket> m_socket;
    DurableMessage::Kind m_kind;
    QTimer m_timer;
    Done m_done;
    Result m_result;
    bool m_finished = false;
};
