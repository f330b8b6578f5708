#include "http/durable/DurableReader.h"

#include "durable/DurableOffset.h"
#include "durable/DurableStore.h"
#include "http/HttpUtil.h"
#include "http/durable/DurableReply.h"
#include "http/durable/DurableRequest.h"
#include "http/durable/DurableSseEncoder.h"
#include "http/durable/LongPollWaiter.h"
#include "http/stream/StreamRegistry.h"
#include "runs/RunStore.h"

#include <QDateTime>
#include <QHttpServerRequest>
#include <QUrlQuery>

namespace {
constexpr int kChunkEntries = 1000; // messages per catch-up answer at most
const QByteArray kAgentType = "application/json";

QByteArray cursorNow(const QByteArray &client)
{
    return DurableOffset::cursor(client, QDateTime::currentMSecsSinceEpoch());
}
} // namespace

DurableReader::DurableReader(const Config &config, DurableStore *durable, RunStore *runs, StreamRegistry *streams)
    : m_config(config)
    , m_durable(durable)
    , m_runs(runs)
    , m_streams(streams)
{
}

void DurableReader::load(const QByteArray &streamId, Source source, const EntryId &after, int count, bool touch,
                         const RequestContext &context, Loaded done)
{
    if (source == Source::Durable) {
        m_durable->read(streamId, after, count, touch, {}, [done, count](const DurableStore::Read &r, const RedisError &error) {
            Found f;
            if (error.isError()) {
                f.status = 503;
                f.problem = error.message;
            } else if (r.status != "ok") {
                f.status = r.status == "gone" ? 410 : 404;
                f.problem = r.status == "gone" ? QStringLiteral("the stream was deleted") : QStringLiteral("no such stream");
            }
            f.contentType = r.contentType;
            f.kind = DurableRequest::isJson(DurableRequest::normalizedType(r.contentType)) ? DurableMessage::Kind::Json
                                                                                            : DurableMessage::Kind::Bytes;
            f.closed = r.closed;
            f.tail = r.tail;
            f.ttl = r.ttl;
            f.expiresAt = r.expiresAt;
            for (const StreamEntry &e : r.entries) {
                f.payloads.append(e.field("d"));
                f.last = e.id;
            }
            f.upToDate = count == 0 || r.rawCount < count || r.sawEnd || f.last == f.tail;
            done(f);
        });
        return;
    }
    RunStore *runs = m_runs;
    m_runs->lookup(streamId, context.tenantFilter, [runs, streamId, after, count, done](const RunStore::Lookup &run, const RunError &error) {
        Found f;
        f.kind = DurableMessage::Kind::Agent;
        f.contentType = kAgentType;
        f.tail = run.last;
        f.closed = run.ended();
        if (error.isError()) {
            f.status = error.kind == RunError::Kind::NotFound ? 404 : 503;
            f.problem = error.message;
            done(f);
            return;
        }
        if (count == 0 || !(after < run.last)) {
            done(f);
            return;
        }
        runs->entriesFrom(streamId, after.next(), count, [f, count, done](const QList<EntryView> &entries, const RunError &error) mutable {
            if (error.isError()) {
                f.status = error.kind == RunError::Kind::NotFound ? 404 : 503;
                f.problem = error.message;
            }
            for (const EntryView &e : entries) {
                f.payloads.append(DurableMessage::payload(e, DurableMessage::Kind::Agent));
                f.last = e.id;
            }
            f.upToDate = entries.size() < count || f.last >= f.tail;
            if (f.tail < f.last)
                f.tail = f.last; // written since the lookup
            done(f);
        });
    });
}

void DurableReader::head(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &streamId, Source source)
{
    Held held(std::move(responder));
    load(streamId, source, {}, 0, false, context, [held, context](const Found &f) {
        if (held.gone())
            return;
        if (f.status != 200) {
            DurableReply::send(*held, context, f.status, {{"Cache-Control", "no-store"}});
            return;
        }
        HeaderPairs h{{"Content-Type", f.contentType}, {"Stream-Next-Offset", DurableOffset::format(f.tail)}, {"Cache-Control", "no-store"}};
        if (!f.ttl.isEmpty())
            h.emplace_back("Stream-TTL", f.ttl);
        if (!f.expiresAt.isEmpty())
            h.emplace_back("Stream-Expires-At", f.expiresAt);
        if (f.closed)
            h.emplace_back("Stream-Closed", "true");
        DurableReply::send(*held, context, 200, h);
    });
}

void DurableReader::get(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                        const QByteArray &streamId, const QByteArray &name, Source source)
{
    const QUrlQuery query(request.url());
    const QStringList offsets = query.allQueryItemValues(QStringLiteral("offset"), QUrl::FullyDecoded);
    const QByteArray live = query.queryItemValue(QStringLiteral("live"), QUrl::FullyDecoded).toUtf8();
    const QByteArray cursor = query.queryItemValue(QStringLiteral("cursor"), QUrl::FullyDecoded).toUtf8();
    const QByteArray offsetText = offsets.isEmpty() ? QByteArray() : offsets.first().toUtf8();
    if (offsets.size() > 1)
        return DurableReply::error(responder, context, 400, QStringLiteral("give one offset parameter, not %1").arg(offsets.size()));
    if (query.hasQueryItem(QStringLiteral("offset")) && offsetText.isEmpty())
        return DurableReply::error(responder, context, 400, QStringLiteral("the offset parameter is empty"));
    if (!live.isEmpty() && live != "long-poll" && live != "sse")
        return DurableReply::error(responder, context, 400, QStringLiteral("live must be long-poll or sse"));
    if (!live.isEmpty() && offsetText.isEmpty())
        return DurableReply::error(responder, context, 400, QStringLiteral("live=%1 needs an offset (-1 for the start, now for the tail)")
                                                                 .arg(QString::fromUtf8(live)));
    const bool now = offsetText == "now";
    std::optional<EntryId> after = now || offsetText.isEmpty() ? std::optional<EntryId>(EntryId{}) : DurableOffset::parse(offsetText);
    if (!after)
        return DurableReply::error(responder, context, 400, QStringLiteral("malformed offset: use -1, now or a Stream-Next-Offset value"));

    Held held(std::move(responder));
    const QByteArray ifNoneMatch = HttpUtil::header(request, "If-None-Match");
    const bool sse = live == "sse";
    const bool longPoll = live == "long-poll";
    const int count = now || sse ? 0 : kChunkEntries;
    const QByteArray startText = offsetText.isEmpty() ? QByteArray("-1") : offsetText;
    load(streamId, source, *after, count, true, context,
         [this, held, context, name, startText, after = *after, now, sse, longPoll, cursor, ifNoneMatch, streamId](const Found &f) {
             if (held.gone())
                 return;
             if (f.status != 200)
                 return f.status == 503 ? DurableReply::unavailable(*held, context, f.problem) : DurableReply::error(*held, context, f.status, f.problem);
             const EntryId from = now ? f.tail : after;
             if (sse)
                 return openSse(held, context, f, streamId, from, cursor);
             if (now && !longPoll) {
                 HeaderPairs h{{"Content-Type", f.contentType}, {"Stream-Next-Offset", DurableOffset::format(f.tail)},
                               {"Stream-Up-To-Date", "true"}, {"Cache-Control", "no-store"}};
                 if (f.closed)
                     h.emplace_back("Stream-Closed", "true");
                 return DurableReply::send(*held, context, 200, h, f.kind == DurableMessage::Kind::Bytes ? QByteArray() : QByteArray("[]"));
             }
             if (longPoll && f.payloads.isEmpty()) {
                 if (f.closed) {
                     return DurableReply::send(*held, context, 204, {{"Stream-Next-Offset", DurableOffset::format(f.tail)},
                                                                     {"Stream-Up-To-Date", "true"}, {"Stream-Closed", "true"}});
                 }
                 return waitLongPoll(held, context, f, streamId, from, cursor);
             }
             answer(held, context, f, name, startText, from, longPoll, cursor, ifNoneMatch);
         });
}

void DurableReader::answer(const Held &held, const RequestContext &context, const Found &f, const QByteArray &name,
                           const QByteArray &startText, const EntryId &after, bool longPoll, const QByteArray &cursor,
                           const QByteArray &ifNoneMatch)
{
    const EntryId next = f.last.isNull() ? after : f.last;
    const QByteArray nextText = DurableOffset::format(next);
    const bool closedHere = f.closed && f.upToDate && !(next < f.tail);
    HeaderPairs h{{"Content-Type", f.contentType}, {"Stream-Next-Offset", nextText}};
    if (f.upToDate)
        h.emplace_back("Stream-Up-To-Date", "true");
    if (closedHere)
        h.emplace_back("Stream-Closed", "true");
    if (longPoll)
        h.emplace_back("Stream-Cursor", cursorNow(cursor));
    const QByteArray etag = '"' + name.toBase64() + ':' + startText + ':' + nextText + (closedHere ? ":c" : "") + '"';
    h.emplace_back("ETag", etag);
    if (!ifNoneMatch.isEmpty() && ifNoneMatch == etag)
        return DurableReply::send(*held, context, 304, {{"ETag", etag}});
    DurableReply::send(*held, context, 200, h, DurableMessage::body(f.payloads, f.kind));
}

void DurableReader::waitLongPoll(const Held &held, const RequestContext &context, const Found &found, const QByteArray &streamId,
                                 const EntryId &after, const QByteArray &cursor)
{
    auto *waiter = new LongPollWaiter(m_streams->hub(), held.socket, found.kind, m_config.longPollTimeoutMs, m_streams);
    waiter->start(streamId, after, [held, context, found, after, cursor](const LongPollWaiter::Result &r) {
        if (held.gone())
            return;
        const QByteArray afterText = DurableOffset::format(after);
        if (r.payloads.isEmpty()) {
            HeaderPairs h{{"Stream-Next-Offset", afterText}, {"Stream-Up-To-Date", "true"}};
            if (r.closed)
                h.emplace_back("Stream-Closed", "true");
            else
                h.emplace_back("Stream-Cursor", cursorNow(cursor));
            return DurableReply::send(*held, context, 204, h);
        }
        const QByteArray nextText = DurableOffset::format(r.last);
        HeaderPairs h{{"Content-Type", found.contentType}, {"Stream-Next-Offset", nextText}, {"Stream-Up-To-Date", "true"},
                      {"Stream-Cursor", cursorNow(cursor)}};
        if (r.closed)
            h.emplace_back("Stream-Closed", "true");
        DurableReply::send(*held, context, 200, h, DurableMessage::body(r.payloads, found.kind));
    });
}

void DurableReader::openSse(const Held &held, const RequestContext &context, const Found &found, const QByteArray &streamId,
                            const EntryId &after, const QByteArray &cursor)
{
    const QByteArray type = DurableRequest::normalizedType(found.contentType);
    const bool base64 = found.kind == DurableMessage::Kind::Bytes && !DurableRequest::isText(type);
    HeaderPairs headers;
    if (base64)
        headers.emplace_back("Stream-SSE-Data-Encoding", "base64");
    auto encoder = std::make_unique<DurableSseEncoder>(found.kind, base64, after, cursor, found.tail, found.closed);
    m_streams->open(std::move(*held.responder), context, std::move(encoder), headers, streamId, after);
}
