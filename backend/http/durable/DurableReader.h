#pragma once

#include "Config.h"
#include "http/core/ApiFamily.h"
#include "http/durable/DurableMessage.h"

class DurableStore;
class RunStore;
class StreamHub;
class StreamRegistry;

// The read side of /v1/stream (GET and HEAD): catch-up, live=long-poll and live=sse, for the
// protocol's own streams and, read-only, for agent conversations (/v1/stream/agents/<id>).
// Live reads are the hub's subscribers like every other live reader: SSE goes through the
// StreamRegistry (limits, back-pressure, keep-alives), long-polls wait in a LongPollWaiter.
//
//   reader.get(request, std::move(responder), context, streamId, name, DurableReader::Source::Durable);
class DurableReader
{
public:
    enum class Source { Durable, Agent };
    DurableReader(const Config &config, DurableStore *durable, RunStore *runs, StreamRegistry *streams);

    void get(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
             const QByteArray &streamId, const QByteArray &name, Source source);
    void head(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &streamId, Source source);

    // What a read found: the stream's state and the messages after the requested offset.
    struct Found
    {
        int status = 200; // 404, 410, 503 end the request
        QString problem;
        QByteArray contentType;
        bool closed = false;
        EntryId tail;
        QByteArray ttl, expiresAt;
        QList<QByteArray> payloads;
        EntryId last;          // the last message returned (null: none)
        bool upToDate = true;  // nothing beyond what was returned
        DurableMessage::Kind kind = DurableMessage::Kind::Bytes;
    };

private:
    using Loaded = std::function<void(const Found &)>;
    void load(const QByteArray &streamId, Source source, const EntryId &after, int count, bool touch, const RequestContext &context,
              Loaded done);
    void answer(const Held &held, const RequestContext &context, const Found &found, const QByteArray &name, const QByteArray &startText,
                const EntryId &after, bool longPoll, const QByteArray &cursor, const QByteArray &ifNoneMatch);
    void waitLongPoll(const Held &held, const RequestContext &context, const Found &found, const QByteArray &streamId,
                      const EntryId &after, const QByteArray &cursor);
    void openSse(const Held &held, const RequestContext &context, const Found &found, const QByteArray &streamId,
                 const EntryId &after, const QByteArray &cursor);

    Config m_config;
    DurableStore *m_durable;
    RunStore *m_runs;
    StreamRegistry *m_streams;
};
