#include "http/stream/StreamResponse.h"

#include "HopTrace.h"
#include "Metrics.h"
#include "http/GuardedTcpServer.h"

#include <QElapsedTimer>
#include <QLoggingCategory>

#include <QSet>
#include <QSocketNotifier>
#include <QTimer>

#include <cerrno>
#include <utility>
#include <sys/socket.h>

Q_LOGGING_CATEGORY(lcStream, "agentstreams.http.stream")

namespace {
int g_open = 0;
QSet<StreamResponse *> g_instances; // the event loop's thread only
constexpr qsizetype kDirectWriteBytes = 16 * 1024;
}

StreamResponse::StreamResponse(QHttpServerResponder &&responder, std::unique_ptr<EventEncoder> encoder, const Options &options,
                               StreamHub *hub, QObject *parent)
    : QObject(parent)
    , m_responder(std::move(responder))
    , m_socket(m_responder->socket())
    , m_encoder(std::move(encoder))
    , m_options(options)
    , m_hub(hub)
{
    ++g_open;
    g_instances.insert(this);
    m_keepAlive = m_encoder->keepAlive();
    m_lastWriteMs = monotonicMs();
    connect(hub, &StreamHub::availabilityChanged, this, [this](bool available) {
        if (available)
            m_unavailableSinceMs = -1;
        else if (m_unavailableSinceMs < 0)
            m_unavailableSinceMs = monotonicMs();
    });
}

StreamResponse::~StreamResponse()
{
    --g_open;
    g_instances.remove(this);
    m_hub->unsubscribe(this);
}

int StreamResponse::openCount()
{
    return g_open;
}

qint64 StreamResponse::unsentTotal()
{
    qint64 total = 0;
    for (const StreamResponse *r : std::as_const(g_instances))
        total += r->unsent();
    return total;
}

qint64 StreamResponse::monotonicMs()
{
    static QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.elapsed();
}

void StreamResponse::tick(qint64 nowMs)
{
    if (m_finished || m_gone)
        return;
    // While Redis is away the response stays open (keep-alives go on) and continues from the
    // last delivered entry when it is back; after the grace period it ends with an `error`
    // event whose id is that last entry, so the client can resume later without a gap.
    if (m_unavailableSinceMs >= 0 && nowMs - m_unavailableSinceMs >= m_options.graceMs) {
        Metrics::instance().readersDropped("redis_unavailable");
        QByteArray out;
        m_encoder->appendUnavailable(out, m_lastId);
        write(out);
        finish();
        return;
    }
    if (!m_keepAlive.isEmpty() && nowMs - m_lastWriteMs >= m_options.keepAliveMs)
        write(m_keepAlive);
    else
        sendHead(); // a new stream whose first entry is slow to be stored: at most a tick late
    probeClosed();
}

bool StreamResponse::probeClosed()
{
    if (!m_readsOff || !m_socket || m_gone)
        return m_gone;
    if (m_channel && m_channel->broken()) {
        dropConnection();
        return true;
    }
    // Nothing watches the socket for reading (see start()): ask the kernel whether the client
    // closed it. 0 = end of stream; EAGAIN = still open.
    char byte;
    const ssize_t n = ::recv(int(m_directFd), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        dropConnection();
    return m_gone;
}

void StreamResponse::start(const QByteArray &conversationId, const EntryId &after, bool newStream)
{
    if (!m_socket) {
        deleteLater();
        return;
    }
    // A second request pipelined behind this one must not be parsed while we stream into the
    // socket (Qt 6.4 would answer it in the middle of our body): stop the server reading, and
    // tell the client with Connection: close that this socket ends with the stream.
    m_socket->setProperty("agentstreams.streaming", true);
    GuardedTcpServer::streamingStarted(m_socket);
    QObject::disconnect(m_socket, &QTcpSocket::readyRead, nullptr, nullptr);
    connect(m_socket, &QTcpSocket::disconnected, this, &StreamResponse::onSocketGone);
    connect(m_socket, &QObject::destroyed, this, &StreamResponse::onSocketGone);
    connect(m_socket, &QTcpSocket::bytesWritten, this, &StreamResponse::onBytesWritten);

    // Built here, sent by the first write (see below): a new stream sends it with its first
    // entry, one send instead of two on every create.
    m_head = "HTTP/1.1 " + QByteArray::number(m_options.status) + ' ' + reasonPhrase(m_options.status) + "\r\n";
    auto header = [this](QByteArrayView name, QByteArrayView value) { m_head.append(name).append(": ").append(value).append("\r\n"); };
    header("Content-Type", m_encoder->contentType());
    header("Cache-Control", "no-cache");
    header("Connection", "close");
    header("X-Accel-Buffering", "no");
    for (const auto &h : m_options.extraHeaders)
        header(h.first, h.second);
    m_head.append("\r\n");
    m_head.append(m_encoder->prologue());
    // Plain TCP only: a TLS socket must encrypt, so everything goes through Qt there.
    if (!m_socket->inherits("QSslSocket")) {
        m_directFd = m_socket->socketDescriptor();
        if (m_options.sender && m_socket->bytesToWrite() == 0)
            m_channel = m_options.sender->attach(int(m_directFd));
        // Nothing is read from a streaming socket any more, so it leaves the event loop's poll
        // set: with thousands of open streams, polling each one on every loop pass was a fifth
        // of the CPU. A client that goes away is noticed by the next write (reset, broken pipe)
        // or by the shared tick's probe (at most a second later).
        const auto notifiers = m_socket->findChildren<QSocketNotifier *>();
        for (QSocketNotifier *n : notifiers) {
            if (n->type() == QSocketNotifier::Read && n->socket() == m_directFd) {
                n->setEnabled(false);
                m_readsOff = true;
            }
        }
    }
    m_lastId = after;
    m_lastWriteMs = monotonicMs();
    Metrics::instance().httpResponse(m_options.status);
    if (!m_hub->isAvailable())
        m_unavailableSinceMs = monotonicMs();
    // A replay waits for a Redis round trip (and a resume measured ~1 ms slower when its head
    // waited for the first batch): its head goes now. A new stream's head waits for its turn
    // event, a millisecond away, unless Redis is down.
    if (!newStream || m_unavailableSinceMs >= 0)
        sendHead();
    if (newStream)
        m_hub->followNew(this, conversationId);
    else
        m_hub->subscribe(this, conversationId, after);
}

QByteArray StreamResponse::reasonPhrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    default:
        return {}; // HTTP/1.1 allows an empty reason phrase
    }
}

void StreamResponse::sendHead()
{
    if (!m_head.isEmpty())
        write({});
}

void StreamResponse::streamCaughtUp()
{
    QByteArray out;
    m_encoder->appendCaughtUp(out);
    if (out.isEmpty())
        sendHead();
    else
        write(out);
}

void StreamResponse::streamEntries(const QList<EntryView> &entries)
{
    if (entries.isEmpty())
        return;
    // A live client this far behind is dropped before more is queued for it (a replay never
    // gets here: the hub holds it while a quarter of this is unsent). It resumes from the last
    // id it received.
    if (m_socket && !m_gone && unsent() > m_options.dropClientAboveBytes) {
        Metrics::instance().readersDropped("slow_client");
        qCWarning(lcStream) << "client too slow:" << unsent() << "bytes unsent; dropping it (it can resume from its last id)";
        dropConnection();
        return;
    }
    // The head (before the first batch) goes first into the same buffer: prepending it in
    // write() would copy the whole batch again.
    QByteArray out;
    out.reserve(m_head.size() + m_encoder->sizeHint(entries));
    out.append(std::exchange(m_head, {}));
    qsizetype used = 0;
    bool complete = false;
    while (used < entries.size() && !complete)
        complete = m_encoder->append(out, entries.at(used++));
    m_lastId = entries.at(used - 1).id;
    Metrics::instance().chunksDelivered(quint64(used));
    HopTrace::mark(HopTrace::current(), HopTrace::Framed);
    write(out);
    if (complete)
        finish();
}

qint64 StreamResponse::unsent() const
{
    if (!m_socket)
        return 0;
    return m_socket->bytesToWrite() + (m_channel ? m_channel->pending() : 0);
}

void StreamResponse::streamEnded()
{
    finish();
}

bool StreamResponse::readyForMore() const
{
    return m_socket && !m_gone && unsent() < m_options.pauseReplayAboveBytes;
}

void StreamResponse::write(const QByteArray &body)
{
    if (!m_socket || m_gone)
        return;
    QByteArray bytes = body;
    if (!m_head.isEmpty()) {
        bytes.prepend(m_head);
        m_head.clear();
    }
    if (bytes.isEmpty())
        return;
    if (m_channel) {
        if (m_channel->broken()) { // reset or broken pipe: the client is gone
            dropConnection();
            return;
        }
        qint64 sent = 0;
        if (bytes.size() >= kDirectWriteBytes && m_channel->pending() == 0) {
            // A replay batch: one big send() costs the event loop little, and handing it to
            // the sender would only add a copy and a wake-up. pending() == 0 means everything
            // written before is in the kernel already, so the order holds.
            const ssize_t n = ::send(int(m_directFd), bytes.constData(), size_t(bytes.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                sent = n;
        }
        if (sent == bytes.size())
            HopTrace::mark(HopTrace::current(), HopTrace::Kernel);
        else
            m_channel->write(bytes, HopTrace::current(), sent); // the rest, without copying it
        m_lastWriteMs = monotonicMs();
        if (!m_drainCheck && m_channel->pending() >= m_options.pauseReplayAboveBytes) {
            // The hub holds a replay while this much is unsent; the sender thread has no way
            // to call back, so look again shortly until the client has taken most of it.
            m_drainCheck = true;
            QTimer::singleShot(2, this, &StreamResponse::checkDrained);
        }
        return;
    }
    qint64 sent = 0;
    if (m_directFd >= 0 && m_socket->bytesToWrite() == 0 && m_socket->state() == QAbstractSocket::ConnectedState) {
        // Nothing queued in Qt: straight to the kernel. QTcpSocket would copy into its buffer,
        // arm a write notifier and send on the next event-loop pass: three times the work for
        // thousands of small live events. What the kernel does not take goes through Qt's
        // buffer (so order holds), and Qt reports errors (reset, broken pipe) as usual.
        const ssize_t n = ::send(int(m_directFd), bytes.constData(), size_t(bytes.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent = n;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            dropConnection(); // reset or broken pipe: the client is gone
            return;
        }
    }
    if (sent < bytes.size())
        m_socket->write(bytes.constData() + sent, bytes.size() - sent);
    else
        HopTrace::mark(HopTrace::current(), HopTrace::Kernel);
    m_lastWriteMs = monotonicMs(); // silence is counted from the last write
}

void StreamResponse::checkDrained()
{
    if (m_gone || !m_channel)
        return;
    if (m_channel->broken() || m_channel->pending() < m_options.pauseReplayAboveBytes / 4) {
        m_drainCheck = false;
        m_hub->resume(this);
        return;
    }
    QTimer::singleShot(2, this, &StreamResponse::checkDrained);
}

void StreamResponse::onBytesWritten()
{
    if (m_socket && m_socket->bytesToWrite() < m_options.pauseReplayAboveBytes / 4)
        m_hub->resume(this);
}

void StreamResponse::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    sendHead(); // a stream that ended before it had anything to send still answers
    m_hub->unsubscribe(this);
    if (m_channel)
        m_channel->close(); // the sender closes its descriptor after the last byte
    if (m_socket && m_socket->state() == QAbstractSocket::ConnectedState)
        m_socket->disconnectFromHost(); // after the pending bytes are written
    else
        onSocketGone();
}

void StreamResponse::dropConnection()
{
    if (m_channel)
        m_channel->discard();
    if (m_socket)
        m_socket->abort();
    onSocketGone();
}

void StreamResponse::onSocketGone()
{
    if (m_gone)
        return;
    m_gone = true;
    if (m_channel && !m_finished)
        m_channel->discard(); // the client left: nothing more to send
    m_hub->unsubscribe(this);
    deleteLater();
}
