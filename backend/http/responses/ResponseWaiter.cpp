#include "http/responses/ResponseWaiter.h"

#include "http/core/Reply.h"

ResponseWaiter::ResponseWaiter(QHttpServerResponder &&responder, const RequestContext &context, const ResponseId &id, StreamHub *hub)
    : m_responder(std::move(responder))
    , m_socket(m_responder.socket())
    , m_context(context)
    , m_id(id)
    , m_events(id)
    , m_hub(hub)
{
}

ResponseWaiter::~ResponseWaiter()
{
    m_hub->unsubscribe(this);
}

void ResponseWaiter::start(const EntryId &after, bool newStream)
{
    if (!m_socket) {
        deleteLater();
        return;
    }
    connect(m_socket, &QTcpSocket::disconnected, this, &QObject::deleteLater);
    connect(m_socket, &QObject::destroyed, this, &QObject::deleteLater);
    if (newStream)
        m_hub->followNew(this, m_id.conversationId);
    else
        m_hub->subscribe(this, m_id.conversationId, after);
}

void ResponseWaiter::streamEntries(const QList<EntryView> &entries)
{
    for (const EntryView &e : entries)
        if (m_events.feed(e, nullptr))
            break;
    if (m_events.complete())
        answer();
}

void ResponseWaiter::streamEnded()
{
    answer();
}

void ResponseWaiter::answer()
{
    if (m_answered)
        return;
    m_answered = true;
    m_hub->unsubscribe(this);
    if (m_socket)
        Reply::json(m_responder, m_context, Reply::Status::Ok, m_events.response(), {{"x-conversation-id", m_id.conversationId}});
    deleteLater();
}
