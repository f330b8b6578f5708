#include "durable/DurableStore.h"

#include "durable/DurableScripts.h"
#include "redis/RedisRouter.h"
#include "redis/RedisReply.h"
#include "streams/StreamHub.h"

#include <QHash>

namespace {
QByteArray text(const RedisReply &reply, int i)
{
    return i < reply.elements.size() ? reply.elements.at(i).str : QByteArray();
}

EntryId idAt(const RedisReply &reply, int i)
{
    return EntryId::parse(text(reply, i)).value_or(EntryId{});
}

// One RedisScript per script text (the router loads it on a node that answers NOSCRIPT).
const RedisScript &scriptOf(const char *script)
{
    static QHash<const char *, RedisScript> scripts; // the event loop's thread only
    auto it = scripts.find(script);
    if (it == scripts.end())
        it = scripts.insert(script, RedisScript::fromSource(QByteArray(script)));
    return *it;
}
} // namespace

DurableStore::DurableStore(RedisRouter *router, StreamHub *hub)
    : m_router(router)
    , m_hub(hub)
{
}

QByteArray DurableStore::streamId(const QByteArray &tenant, const QByteArray &name)
{
    return "ds:" + tenant + ':' + name;
}

QByteArray DurableStore::metaKey(const QByteArray &streamId)
{
    return StreamKeys::wrapped("ds-meta:{", streamId);
}

void DurableStore::eval(const char *script, const QList<QByteArray> &keys, const QList<QByteArray> &args,
                        std::function<void(const RedisReply &, const RedisError &)> done)
{
    m_router->eval(scriptOf(script), keys, args, std::move(done));
}

void DurableStore::wake(const QByteArray &id, const EntryId &tail)
{
    // On a cluster, readers of other instances follow a stream through sharded pub/sub
    // wake-ups (see StreamHub); one server's readers block on the stream itself.
    if (m_router->isCluster() && !tail.isNull())
        m_router->command({"SPUBLISH", StreamKeys::wrapped("agent-streams:wake:{", id), tail.toBytes()});
}

void DurableStore::create(const QByteArray &id, const Settings &s, const QList<QPair<QByteArray, QByteArray>> &entries,
                          std::function<void(const Created &, const RedisError &)> done)
{
    QList<QByteArray> args{s.contentType, s.normalizedType, s.ttl, s.ttlMs, s.expiresAt, s.expiresAtMs,
                           s.closed ? "1" : "0", s.forkedFrom, s.forkOffset, s.forkSubOffset,
                           QByteArray::number(entries.size())};
    for (const auto &e : entries)
        args << e.first << e.second;
    const bool withEntries = !entries.isEmpty() || s.closed;
    eval(DurableScripts::kCreate, {metaKey(id), StreamKeys::stream(id)}, args, [this, id, withEntries, done](const RedisReply &reply, const RedisError &error) {
        Created c;
        if (!error.isError()) {
            c.status = text(reply, 0);
            c.tail = idAt(reply, 1);
            c.closed = text(reply, 2) == "1";
            c.contentType = text(reply, 3);
            if (c.status == "created" && withEntries)
                wake(id, c.tail);
        }
        done(c, error);
    });
}

void DurableStore::append(const QByteArray &id, const Append &r, std::function<void(const Appended &, const RedisError &)> done)
{
    QList<QByteArray> args{r.normalizedType, r.close ? "1" : "0", r.streamSeq, r.producerId, r.epoch, r.seq,
                           QByteArray::number(r.messages.size())};
    args += r.messages;
    StreamHub *hub = m_hub;
    const QList<QByteArray> messages = r.messages;
    eval(DurableScripts::kAppend, {metaKey(id), StreamKeys::stream(id)}, args,
         [this, hub, id, messages, done](const RedisReply &reply, const RedisError &error) {
             Appended a;
             if (!error.isError()) {
                 a.status = text(reply, 0);
                 a.tail = idAt(reply, 1);
                 a.closed = text(reply, 2) == "1";
                 a.a = text(reply, 3);
                 a.b = text(reply, 4);
             }
             if (a.status == "ok" && reply.elements.size() > 6) {
                 // Acknowledged: the hub's live readers take these without reading them back.
                 QList<StreamEntry> entries;
                 for (int i = 6; i < reply.elements.size(); ++i) {
                     StreamEntry e;
                     e.idText = reply.elements.at(i).str;
                     e.id = EntryId::parse(e.idText).value_or(EntryId{});
                     const int m = i - 6;
                     if (m < messages.size())
                         e.fields = {{"d", messages.at(m)}};
                     else
                         e.fields = {{"type", "done"}};
                     entries.append(e);
                 }
                 hub->deliverLocal(id, idAt(reply, 5), entries);
                 wake(id, a.tail);
             }
             done(a, error);
         });
}

void DurableStore::read(const QByteArray &id, const EntryId &after, int count, bool touch, const EntryId &until,
                        std::function<void(const Read &, const RedisError &)> done)
{
    eval(DurableScripts::kRead, {metaKey(id), StreamKeys::stream(id)},
         {after.toBytes(), QByteArray::number(count), touch ? "1" : "0", until.isNull() ? QByteArray() : until.toBytes()},
         [done](const RedisReply &reply, const RedisError &error) {
             Read r;
             if (!error.isError()) {
                 r.status = text(reply, 0);
                 r.contentType = text(reply, 1);
                 r.closed = text(reply, 2) == "1";
                 r.tail = idAt(reply, 3);
                 r.ttl = text(reply, 4);
                 r.expiresAt = text(reply, 5);
                 if (reply.elements.size() > 6) {
                     const RedisReply &list = reply.elements.at(6);
                     r.rawCount = int(list.elements.size());
                     for (const RedisReply &item : list.elements) {
                         if (item.elements.size() != 2)
                             continue;
                         StreamEntry e;
                         e.idText = item.elements.at(0).str;
                         e.id = EntryId::parse(e.idText).value_or(EntryId{});
                         const RedisReply &kv = item.elements.at(1);
                         for (int f = 0; f + 1 < kv.elements.size(); f += 2)
                             e.fields.append({kv.elements.at(f).str, kv.elements.at(f + 1).str});
                         if (e.field("type") == "done")
                             r.sawEnd = true;
                         else
                             r.entries.append(e);
                     }
                 }
             }
             done(r, error);
         });
}

void DurableStore::remove(const QByteArray &id, std::function<void(const QByteArray &, const QByteArray &, const RedisError &)> done)
{
    eval(DurableScripts::kDelete, {metaKey(id), StreamKeys::stream(id)}, {}, [this, done](const RedisReply &reply, const RedisError &error) {
        const QByteArray status = error.isError() ? QByteArray() : text(reply, 0);
        const QByteArray source = text(reply, 1);
        if (status == "deleted" && !source.isEmpty())
            forkRef(source, -1);
        done(status, source, error);
    });
}

void DurableStore::forkRef(const QByteArray &id, int delta)
{
    eval(DurableScripts::kForkRef, {metaKey(id), StreamKeys::stream(id)}, {QByteArray::number(delta)},
         [this](const RedisReply &reply, const RedisError &error) {
             // Cascade: a removed soft-deleted fork releases its own source.
             if (!error.isError() && text(reply, 0) == "removed" && !text(reply, 1).isEmpty())
                 forkRef(text(reply, 1), -1);
         });
}
