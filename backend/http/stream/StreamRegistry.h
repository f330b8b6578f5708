#pragma once

#include "Config.h"
#include "http/core/RequestContext.h"
#include "http/stream/EventEncoder.h"

#include <QHash>
#include <QHttpServerResponder>
#include <QObject>
#include <QTimer>
#include <memory>

class SocketSender;
class StreamHub;
class StreamResponse;

// Every open stream response of the server: the limits (in total and per client), the one
// timer that drives their keep-alives and Redis grace periods, and the sender thread they
// share. Streams end on their own; deleting the registry ends those still open.
//
//   registry->open(std::move(responder), context, std::move(encoder), headers, id, cursor);
class StreamRegistry : public QObject
{
    Q_OBJECT
public:
    StreamRegistry(const Config &config, StreamHub *hub, QObject *parent = nullptr);
    ~StreamRegistry() override;

    // Streams the conversation after `after` (newStream: see StreamResponse::start), or answers
    // 429 when a limit is reached. headers: the family's (x-conversation-id, ...); the
    // context's CORS headers are added.
    void open(QHttpServerResponder &&responder, const RequestContext &context, std::unique_ptr<EventEncoder> encoder,
              const HeaderPairs &headers, const QByteArray &conversationId, const EntryId &after, bool newStream = false);

    StreamHub *hub() const { return m_hub; }

private:
    Config m_config;
    StreamHub *m_hub;
    QHash<QByteArray, int> m_openByClient;
    QHash<StreamResponse *, QByteArray> m_streams; // open streams and their client (key or address)
    QTimer m_tick;
    static constexpr uint kTickSlices = 8;
    uint m_tickSlice = 0;
    // Context of the per-stream connections, so that they do not pile up on this object.
    QObject m_streamContext;
    std::shared_ptr<SocketSender> m_sender;
};
