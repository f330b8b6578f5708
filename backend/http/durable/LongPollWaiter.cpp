#include "http/durable/LongPollWaiter.h"

LongPollWaiter::LongPollWaiter(StreamHub *hub, QTcpSocket *socket, DurableMessage::Kind kind, int timeoutMs, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_socket(socket)
    , m_kind(kind)
{
    m_timer.setSingleShot(true);
    m_timer.setInterval(timeoutMs);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        m_result.timedOut = true;
        finish();
    });
    if (socket) {
        // The client left: nobody to answer.
        connect(socket, &QTcpSocket::disconnected, this, [this] {
            m_done = nullptr;
            finish();
        });
    }
}

LongPollWaiter::~LongPollWaiter()
{
    m_hub->unsubscribe(this);
}

void LongPollWaiter::start(const QByteArray &streamId, const EntryId &after, Done done)
{
    m_done = std::move(done);
    if (!m_socket) {
        m_done = nullptr;
        finish();
        return;
    }
    m_timer.start();
    m_hub->subscribe(this, streamId, after);
}

void LongPollWaiter::streamEntries(const QList<EntryView> &entries)
{
    if (m_finished)
        return;
    for (const EntryView &e : entries) {
        if (DurableMessage::isData(e, m_kind)) {
            m_result.payloads.append(DurableMessage::payload(e, m_kind));
            m_result.last = e.id;
        }
        if (DurableMessage::closes(e, m_kind)) {
            m_result.closed = true;
            break;
        }
    }
    if (!m_result.payloads.isEmpty() || m_result.closed)
        finish();
}

void LongPollWaiter::streamEnded()
{
    m_result.closed = true;
    finish();
}

void LongPollWaiter::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_timer.stop();
    m_hub->unsubscribe(this);
    if (m_done && m_socket)
        m_done(m_result);
    deleteLater();
}
