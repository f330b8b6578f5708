#include "http/durable/DurableApi.h"

#include "durable/DurableOffset.h"
#include "http/HttpUtil.h"
#include "http/core/Admission.h"
#include "http/durable/DurableReply.h"
#include "http/durable/DurableRequest.h"
#include "runs/ConversationId.h"

#include <QDateTime>
#include <QHttpServerRequest>

namespace {
constexpr int kForkCopyLimit = 1000000; // messages a fork copies at most
const QByteArray kPrefix = "/v1/stream/";

// The family's own headers on every answer: security headers, and its exposed headers for CORS.
RequestContext prepared(RequestContext context)
{
    for (auto &h : context.cors)
        if (h.first == "Access-Control-Expose-Headers")
            h.second = DurableReply::exposedHeaders();
    context.cors += DurableReply::securityHeaders();
    return context;
}
bool hasHeader(const QHttpServerRequest &request, const QByteArray &name)
{
    const auto headers = request.headers();
    for (const auto &h : headers)
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    return false;
}

// A fork without a lifetime of its own takes its source's TTL or expiry (PROTOCOL.md 4.2).
void inheritLifetime(const DurableStore::Read &source, DurableStore::Settings *s)
{
    if (!s->ttl.isEmpty() || !s->expiresAt.isEmpty())
        return;
    s->ttl = source.ttl;
    if (!source.ttl.isEmpty())
        s->ttlMs = QByteArray::number(source.ttl.toLongLong() * 1000);
    s->expiresAt = source.expiresAt;
    QString unused;
    if (!source.expiresAt.isEmpty())
        s->expiresAtMs = QByteArray::number(DurableRequest::expiresAtMs(source.expiresAt, &unused).value_or(0));
}
} // namespace

DurableApi::DurableApi(const Config &config, RunManager *runs, RunStore *store, StreamRegistry *streams, Admission *admission,
                       RedisRouter *writer, StreamHub *hub)
    : ApiFamily(config, runs, store, streams, admission)
    , m_durable(writer, hub)
    , m_reader(config, &m_durable, store, streams)
{
}

QByteArray DurableApi::idOf(const RequestContext &context, const QByteArray &name)
{
    return DurableStore::streamId(context.tenant, QByteArray::fromPercentEncoding(name));
}

void DurableApi::addRoutes(Router &router)
{
    using M = QHttpServerRequest::Method;
    router.add(M::Get | M::Head, "/v1/stream/agents/{id}", [this](auto &request, auto &&responder, auto &ctx) {
        const RequestContext context = prepared(ctx);
        const auto normalized = ConversationId::normalize(context.args.at(0));
        if (!normalized)
            return DurableReply::error(responder, context, 404, QStringLiteral("no such conversation"));
        const QByteArray id = *normalized;
        if (request.method() == M::Head)
            return m_reader.head(std::move(responder), context, id, DurableReader::Source::Agent);
        m_reader.get(request, std::move(responder), context, id, context.args.at(0), DurableReader::Source::Agent);
    });
    router.add(M::Put | M::Post | M::Get | M::Head | M::Delete, "/v1/stream/{name}", [this](auto &request, auto &&responder, auto &ctx) {
        const RequestContext context = prepared(ctx);
        const QByteArray name = QByteArray::fromPercentEncoding(context.args.at(0));
        if (!DurableRequest::isValidName(name))
            return DurableReply::error(responder, context, 400, QStringLiteral("a stream name is 1 to 512 bytes without control characters"));
        const QByteArray id = DurableStore::streamId(context.tenant, name);
        switch (request.method()) {
        case M::Put:
            return create(request, std::move(responder), context, name);
        case M::Post:
            return append(request, std::move(responder), context, id);
        case M::Delete:
            return remove(std::move(responder), context, id);
        case M::Head:
            return m_reader.head(std::move(responder), context, id, DurableReader::Source::Durable);
        default:
            return m_reader.get(request, std::move(responder), context, id, name, DurableReader::Source::Durable);
        }
    });
}

void DurableApi::create(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                        const QByteArray &name)
{
    const QByteArray ttl = HttpUtil::header(request, "Stream-TTL");
    const QByteArray expires = HttpUtil::header(request, "Stream-Expires-At");
    const QByteArray forkedFrom = HttpUtil::header(request, "Stream-Forked-From");
    QString problem;
    DurableStore::Settings s;
    s.contentType = HttpUtil::header(request, "Content-Type");
    if (!ttl.isEmpty() && !expires.isEmpty())
        return DurableReply::error(responder, context, 400, QStringLiteral("give Stream-TTL or Stream-Expires-At, not both"));
    if (!ttl.isEmpty()) {
        const auto seconds = DurableRequest::ttlSeconds(ttl, &problem);
        if (!seconds)
            return DurableReply::error(responder, context, 400, problem);
        s.ttl = ttl;
        s.ttlMs = QByteArray::number(qMax<qint64>(1, *seconds * 1000));
    }
    if (!expires.isEmpty()) {
        const auto ms = DurableRequest::expiresAtMs(expires, &problem);
        if (!ms)
            return DurableReply::error(responder, context, 400, problem);
        s.expiresAt = expires;
        s.expiresAtMs = QByteArray::number(*ms);
    }
    s.closed = DurableRequest::isTrue(HttpUtil::header(request, "Stream-Closed"));
    const QByteArray body = request.body();
    QList<QByteArray> messages;
    const bool json = DurableRequest::isJson(DurableRequest::normalizedType(s.contentType));
    if (json && !body.trimmed().isEmpty()) {
        const auto parsed = DurableRequest::jsonMessages(body, &problem);
        if (!parsed)
            return DurableReply::error(responder, context, 400, problem);
        messages = *parsed;
    } else if (!body.isEmpty()) {
        messages = {body};
    }
    if (!m_admission->writable(responder, context) || !m_admission->rate(responder, context))
        return;
    const QByteArray location = request.url().toString(QUrl::FullyEncoded).toUtf8();
    Held held(std::move(responder));
    const QByteArray id = DurableStore::streamId(context.tenant, name);
    if (forkedFrom.isEmpty() && (hasHeader(request, "Stream-Fork-Offset") || hasHeader(request, "Stream-Fork-Sub-Offset")))
        return DurableReply::error(*held, context, 400, QStringLiteral("Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From"));
    if (!forkedFrom.isEmpty())
        return fork(request, held, context, id, location, s, messages);
    if (s.contentType.isEmpty())
        s.contentType = "application/octet-stream";
    s.normalizedType = DurableRequest::normalizedType(s.contentType);
    QList<QPair<QByteArray, QByteArray>> entries;
    for (const QByteArray &m : std::as_const(messages))
        entries.append({"*", m});
    createWith(held, context, id, location, s, entries);
}

void DurableApi::createWith(const Held &held, const RequestContext &context, const QByteArray &id, const QByteArray &location,
                            const DurableStore::Settings &settings, const QList<QPair<QByteArray, QByteArray>> &entries)
{
    DurableStore *store = &m_durable;
    m_durable.create(id, settings, entries, [held, context, location, settings, store](const DurableStore::Created &c, const RedisError &error) {
        if (!error.isError() && c.status == "created" && !settings.forkedFrom.isEmpty())
            store->forkRef(settings.forkedFrom, +1);
        if (held.gone())
            return;
        if (error.isError())
            return DurableReply::unavailable(*held, context, error.message);
        if (c.status == "conflict")
            return DurableReply::error(*held, context, 409, QStringLiteral("a stream with another configuration exists at this URL"));
        HeaderPairs h{{"Content-Type", c.contentType}, {"Stream-Next-Offset", DurableOffset::format(c.tail)}};
        if (c.status == "created")
            h.emplace_back("Location", location);
        if (c.closed)
            h.emplace_back("Stream-Closed", "true");
        DurableReply::send(*held, context, c.status == "created" ? 201 : 200, h);
    });
}

void DurableApi::fork(const QHttpServerRequest &request, const Held &held, const RequestContext &context, const QByteArray &id,
                      const QByteArray &location, DurableStore::Settings s, const QList<QByteArray> &messages)
{
    QByteArray source = HttpUtil::header(request, "Stream-Forked-From");
    if (source.startsWith("http://") || source.startsWith("https://"))
        source = QUrl::fromEncoded(source).path(QUrl::FullyEncoded).toUtf8();
    if (!source.startsWith(kPrefix))
        return DurableReply::error(*held, context, 404, QStringLiteral("Stream-Forked-From must name a stream of this server (/v1/stream/...)"));
    const QByteArray sourceName = QByteArray::fromPercentEncoding(source.mid(kPrefix.size()));
    const QByteArray offsetText = HttpUtil::header(request, "Stream-Fork-Offset");
    std::optional<EntryId> offset;
    if (!offsetText.isEmpty() && !(offset = DurableOffset::parse(offsetText)))
        return DurableReply::error(*held, context, 400, QStringLiteral("malformed Stream-Fork-Offset"));
    const QByteArray sub = HttpUtil::header(request, "Stream-Fork-Sub-Offset");
    if (hasHeader(request, "Stream-Fork-Sub-Offset") && !DurableRequest::isCanonicalNumber(sub))
        return DurableReply::error(*held, context, 400, QStringLiteral("Stream-Fork-Sub-Offset is a non-negative integer without sign or leading zeros"));
    const qint64 subOffset = sub.isEmpty() ? 0 : sub.toLongLong();
    if (subOffset > 0 && !offset)
        return DurableReply::error(*held, context, 400, QStringLiteral("Stream-Fork-Sub-Offset needs a Stream-Fork-Offset to count from"));
    s.forkSubOffset = subOffset > 0 ? sub : QByteArray();
    const QByteArray sourceId = DurableStore::streamId(context.tenant, sourceName);
    m_durable.read(sourceId, {}, kForkCopyLimit, false, {},
                   [this, held, context, id, location, s, messages, sourceId, offset, subOffset](const DurableStore::Read &r, const RedisError &error) mutable {
        if (held.gone())
            return;
        if (error.isError())
            return DurableReply::unavailable(*held, context, error.message);
        if (r.status == "notfound")
            return DurableReply::error(*held, context, 404, QStringLiteral("the source stream does not exist"));
        if (r.status == "gone")
            return DurableReply::error(*held, context, 409, QStringLiteral("the source stream was deleted"));
        const EntryId at = offset.value_or(r.tail);
        if (r.tail < at)
            return DurableReply::error(*held, context, 400, QStringLiteral("Stream-Fork-Offset is beyond the source stream's tail"));
        const QByteArray sourceType = DurableRequest::normalizedType(r.contentType);
        if (!s.contentType.isEmpty() && DurableRequest::normalizedType(s.contentType) != sourceType)
            return DurableReply::error(*held, context, 409, QStringLiteral("the content type differs from the source stream's"));
        if (s.contentType.isEmpty())
            s.contentType = r.contentType;
        s.normalizedType = sourceType;
        inheritLifetime(r, &s);
        s.forkedFrom = sourceId;
        s.forkOffset = at.toBytes();
        QList<QPair<QByteArray, QByteArray>> entries;
        QList<const StreamEntry *> after;
        for (const StreamEntry &e : r.entries)
            (at < e.id ? after.append(&e) : entries.append({e.idText, e.field("d")}));
        // The sub-offset: JSON, that many more messages; bytes, that many bytes of the next message.
        if (DurableRequest::isJson(sourceType)) {
            if (subOffset > after.size())
                return DurableReply::error(*held, context, 400, QStringLiteral("Stream-Fork-Sub-Offset is past the source's messages"));
            for (qsizetype i = 0; i < subOffset; ++i)
                entries.append({after.at(i)->idText, after.at(i)->field("d")});
        } else if (subOffset > 0) {
            if (after.isEmpty() || subOffset > after.first()->field("d").size())
                return DurableReply::error(*held, context, 400, QStringLiteral("Stream-Fork-Sub-Offset is past the next message"));
            entries.append({after.first()->idText, after.first()->field("d").left(subOffset)});
        }
        for (const QByteArray &m : messages)
            entries.append({"*", m});
        createWith(held, context, id, location, s, entries);
    });
}

void DurableApi::append(const QHttpServerRequest &request, QHttpServerResponder &&responder, const RequestContext &context,
                        const QByteArray &id)
{
    DurableStore::Append a;
    a.producerId = HttpUtil::header(request, "Producer-Id");
    a.epoch = HttpUtil::header(request, "Producer-Epoch");
    a.seq = HttpUtil::header(request, "Producer-Seq");
    const bool anyProducer = hasHeader(request, "Producer-Id") || hasHeader(request, "Producer-Epoch") || hasHeader(request, "Producer-Seq");
    if (anyProducer) {
        if (a.producerId.isEmpty() || a.epoch.isEmpty() || a.seq.isEmpty())
            return DurableReply::error(responder, context, 400, QStringLiteral("send Producer-Id, Producer-Epoch and Producer-Seq together, none empty"));
        if (!DurableRequest::isProducerNumber(a.epoch) || !DurableRequest::isProducerNumber(a.seq))
            return DurableReply::error(responder, context, 400, QStringLiteral("Producer-Epoch and Producer-Seq are integers from 0 to 2^53-1"));
    }
    a.close = DurableRequest::isTrue(HttpUtil::header(request, "Stream-Closed"));
    a.streamSeq = HttpUtil::header(request, "Stream-Seq");
    const QByteArray body = request.body();
    if (body.isEmpty() && !a.close)
        return DurableReply::error(responder, context, 400, QStringLiteral("an append needs a body (or Stream-Closed: true to close)"));
    if (!body.isEmpty()) {
        const QByteArray type = HttpUtil::header(request, "Content-Type");
        if (type.isEmpty())
            return DurableReply::error(responder, context, 400, QStringLiteral("an append with a body needs a Content-Type"));
        a.normalizedType = DurableRequest::normalizedType(type);
        if (DurableRequest::isJson(a.normalizedType)) {
            QString problem;
            const auto parsed = DurableRequest::jsonMessages(body, &problem);
            if (!parsed)
                return DurableReply::error(responder, context, 400, problem);
            if (parsed->isEmpty())
                return DurableReply::error(responder, context, 400, QStringLiteral("an empty JSON array appends nothing"));
            a.messages = *parsed;
        } else {
            a.messages = {body};
        }
    }
    if (!m_admission->writable(responder, context))
        return;
    Held held(std::move(responder));
    const bool producer = anyProducer;
    const bool data = !a.messages.isEmpty();
    m_durable.append(id, a, [held, context, producer, data](const DurableStore::Appended &r, const RedisError &error) {
        if (held.gone())
            return;
        if (error.isError())
            return DurableReply::unavailable(*held, context, error.message);
        HeaderPairs h{{"Stream-Next-Offset", DurableOffset::format(r.tail)}};
        if (r.closed)
            h.emplace_back("Stream-Closed", "true");
        const QByteArray &s = r.status;
        if (s == "ok" || s == "dup") {
            if (producer)
                h += HeaderPairs{{"Producer-Epoch", r.a}, {"Producer-Seq", r.b}};
            // 200: a producer's new data; 204: without a producer, a duplicate, or a close alone.
            return DurableReply::send(*held, context, s == "ok" && producer && data ? 200 : 204, h);
        }
        if (s == "closed_ok")
            return DurableReply::send(*held, context, 204, h);
        if (s == "notfound")
            return DurableReply::error(*held, context, 404, QStringLiteral("no such stream"));
        if (s == "gone")
            return DurableReply::error(*held, context, 410, QStringLiteral("the stream was deleted"));
        if (s == "closed")
            return DurableReply::error(*held, context, 409, QStringLiteral("the stream is closed"), h);
        if (s == "ctmismatch")
            return DurableReply::error(*held, context, 409, QStringLiteral("the Content-Type differs from the stream's"), h);
        if (s == "seq")
            return DurableReply::error(*held, context, 409, QStringLiteral("Stream-Seq must be greater than the last one"), h);
        if (s == "stale")
            return DurableReply::error(*held, context, 403, QStringLiteral("a newer producer epoch exists"), {{"Producer-Epoch", r.a}});
        if (s == "gap")
            return DurableReply::error(*held, context, 409, QStringLiteral("Producer-Seq skips ahead"),
                                       {{"Producer-Expected-Seq", r.a}, {"Producer-Received-Seq", r.b}});
        DurableReply::error(*held, context, 400, QStringLiteral("a new producer epoch starts at Producer-Seq 0"));
    });
}

void DurableApi::remove(QHttpServerResponder &&responder, const RequestContext &context, const QByteArray &id)
{
    if (!m_admission->writable(responder, context))
        return;
    Held held(std::move(responder));
    m_durable.remove(id, [held, context](const QByteArray &status, const QByteArray &, const RedisError &error) {
        if (held.gone())
            return;
        if (error.isError())
            return DurableReply::unavailable(*held, context, error.message);
        if (status == "notfound")
            return DurableReply::error(*held, context, 404, QStringLiteral("no such stream"));
        if (status == "gone")
            return DurableReply::error(*held, context, 410, QStringLiteral("the stream was deleted"));
        DurableReply::send(*held, context, 204, {});
    });
}
