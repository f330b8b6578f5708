#include "http/stream/StreamRegistry.h"

#include "Metrics.h"
#include "http/SocketSender.h"
#include "http/core/Reply.h"
#include "http/stream/StreamResponse.h"

StreamRegistry::StreamRegistry(const Config &config, StreamHub *hub, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_hub(hub)
{
    m_sender = SocketSender::create();
    // One timer for every open stream's keep-alive and Redis grace period. Each stream is
    // visited once per period, in kTickSlices slices a period apart by 1/kTickSlices: a tick
    // costs a recv(MSG_PEEK) per stream it visits, and 2,000 of them in one event-loop turn
    // held every live chunk back by milliseconds once a second (docs/BENCHMARKS.md, session 12).
    m_tick.setInterval(qMax(1, std::clamp(qMin(config.keepAliveMs, qMax(config.readerGraceMs, 100)) / 4, 25, 1000) / int(kTickSlices)));
    connect(&m_tick, &QTimer::timeout, this, [this] {
        const qint64 now = StreamResponse::monotonicMs();
        const uint slice = m_tickSlice++ % kTickSlices;
        QList<StreamResponse *> streams; // a tick may end streams
        for (auto it = m_streams.cbegin(); it != m_streams.cend(); ++it)
            if (qHash(quintptr(it.key())) % kTickSlices == slice)
                streams.append(it.key());
        for (StreamResponse *s : streams)
            if (m_streams.contains(s))
                s->tick(now);
    });
}

StreamRegistry::~StreamRegistry()
{
    // Streams still open get what can be written now; then the sender thread ends.
    const QList<StreamResponse *> streams = m_streams.keys();
    for (StreamResponse *s : streams)
        delete s;
    m_sender->stop();
}

void StreamRegistry::open(QHttpServerResponder &&responder, const RequestContext &context, std::unique_ptr<EventEncoder> encoder,
                          const HeaderPairs &headers, const QByteArray &id, const EntryId &after, bool newStream)
{
    const QByteArray client = context.client;
    // Upper bounds first (they include streams whose end is being processed); at a limit, the
    // exact count, after asking every socket once whether its client left without the server
    // noticing yet (streaming sockets are not polled for reading).
    int total = int(m_streams.size());
    int mine = m_openByClient.value(client);
    if (total >= m_config.maxStreams || mine >= m_config.maxStreamsPerKey) {
        const QList<StreamResponse *> streams = m_streams.keys();
        for (StreamResponse *s : streams)
            if (m_streams.contains(s))
                s->probeClosed();
        total = mine = 0;
        for (auto it = m_streams.cbegin(); it != m_streams.cend(); ++it) {
            if (!it.key()->isGone()) {
                ++total;
                mine += it.value() == client;
            }
        }
    }
    if (total >= m_config.maxStreams || mine >= m_config.maxStreamsPerKey) {
        Metrics::instance().rateLimited();
        Reply::error(responder, context, Reply::Status::TooManyRequests, "too_many_streams",
                     total >= m_config.maxStreams
                         ? QStringLiteral("the server has %1 open streams, its limit; try again shortly").arg(m_config.maxStreams)
                         : QStringLiteral("this key (or address) has %1 open streams, its limit; close some first").arg(m_config.maxStreamsPerKey),
                     {{"Retry-After", "5"}});
        return;
    }
    StreamResponse::Options options;
    options.extraHeaders = headers + context.cors;
    options.keepAliveMs = m_config.keepAliveMs;
    options.graceMs = m_config.readerGraceMs;
    options.sender = m_sender;
    options.dropClientAboveBytes = m_config.clientBufferBytes;
    options.pauseReplayAboveBytes = qMin<qint64>(options.pauseReplayAboveBytes, m_config.clientBufferBytes / 4);
    auto *response = new StreamResponse(std::move(responder), std::move(encoder), options, m_hub, this);
    m_streams.insert(response, client);
    ++m_openByClient[client];
    if (!m_tick.isActive())
        m_tick.start();
    connect(response, &QObject::destroyed, &m_streamContext, [this, client, response] { // whatever way it ends
        if (--m_openByClient[client] <= 0)
            m_openByClient.remove(client);
        m_streams.remove(response);
        if (m_streams.isEmpty())
            m_tick.stop();
    });
    response->start(id, after, newStream);
}
