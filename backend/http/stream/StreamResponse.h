#pragma once

#include "http/HttpUtil.h"
#include "http/SocketSender.h"
#include "http/stream/EventEncoder.h"
#include "streams/StreamHub.h"

#include <QHttpServerResponder>
#include <QObject>
#include <QPointer>
#include <QTcpSocket>
#include <memory>
#include <optional>

// One open streaming HTTP response following a conversation through the hub: bytes, the
// socket and back-pressure. What the entries look like on the wire is the encoder's (one per
// API family). It owns the responder; the socket stays the server's (watched through a
// QPointer). The response ends (socket closed after the last byte) at the conversation's
// terminal entry or when the encoder says it is complete, and the object deletes itself when
// the client goes away or the response ends.
//
//   auto *r = new StreamResponse(std::move(responder), std::move(encoder), options, hub, parent);
//   r->start(conversationId, cursor);
class StreamResponse : public QObject, public StreamSubscriber
{
    Q_OBJECT
public:
    struct Options
    {
        int status = 200;
        HeaderPairs extraHeaders; // x-conversation-id, CORS etc.
        int keepAliveMs = 15000;
        qint64 pauseReplayAboveBytes = 1 << 20;   // stop reading backlog while this much is unsent
        qint64 dropClientAboveBytes = 16 << 20;   // a live client this far behind is dropped
        int graceMs = 30000;                       // Redis down this long: end with `unavailable`
        std::shared_ptr<SocketSender> sender;      // plain TCP: bytes are sent by this thread
    };

    StreamResponse(QHttpServerResponder &&responder, std::unique_ptr<EventEncoder> encoder, const Options &options, StreamHub *hub,
                   QObject *parent);
    ~StreamResponse() override;

    // Streams the conversation after `after`. newStream: a conversation this process has only
    // just started writing, followed from its first entry without a replay (StreamHub::follow).
    void start(const QByteArray &conversationId, const EntryId &after, bool newStream = false);
    static int openCount();
    // Bytes held for clients over every open stream (sender channels and Qt's buffers).
    static qint64 unsentTotal();
    // Driven by one shared timer of the server instead of timers per stream (thousands of
    // re-armed timers cost more than the streams): keep-alive after silence, end after the
    // Redis grace period.
    void tick(qint64 nowMs);
    static qint64 monotonicMs();
    // True when the client is gone (checked now if nothing else would have noticed yet).
    bool probeClosed();
    bool isGone() const { return m_gone; }

    // StreamSubscriber
    void streamEntries(const QList<EntryView> &entries) override;
    void streamEnded() override;
    void streamCaughtUp() override;
    bool readyForMore() const override;

private:
    void write(const QByteArray &body);
    void sendHead();
    static QByteArray reasonPhrase(int status);
    void finish();
    void onSocketGone();
    // The client is gone or too slow: close now, drop whatever is unsent.
    void dropConnection();
    void onBytesWritten();
    void checkDrained();
    qint64 unsent() const;

    std::optional<QHttpServerResponder> m_responder;
    QPointer<QTcpSocket> m_socket;
    std::unique_ptr<EventEncoder> m_encoder;
    Options m_options;
    StreamHub *m_hub;
    EntryId m_lastId; // the last entry written to the client
    QByteArray m_head; // status line and headers until the first write sends them
    qintptr m_directFd = -1; // plain TCP: events go straight to the kernel when Qt has nothing queued
    bool m_readsOff = false; // the socket's read notifier is off; tick() probes for a close
    std::unique_ptr<SocketSender::Channel> m_channel;
    bool m_drainCheck = false;
    qint64 m_lastWriteMs = 0;
    qint64 m_unavailableSinceMs = -1;
    QByteArray m_keepAlive; // the encoder's; empty = none
    bool m_finished = false;
    bool m_gone = false;
};
