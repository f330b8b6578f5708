#pragma once

#include "redis/RedisError.h"
#include "streams/StreamEntry.h"

#include <QByteArray>
#include <QList>
#include <functional>

class RedisRouter;
class StreamHub;
struct RedisReply;

// The Redis side of Durable Streams (see DurableScripts.h for the keys and the scripts): each
// operation is ONE script call on one stream's keys, so a producer's checks, the append, the
// close and the TTL are one atomic step. Appends are handed to the hub as soon as Redis has
// acknowledged them (StreamHub::deliverLocal: live readers of this process get them without a
// read back; readers elsewhere get them from their blocking reads).
//
//   store.append(id, request, [](const DurableStore::Appended &a, const RedisError &e) {...});
class DurableStore
{
public:
    DurableStore(RedisRouter *router, StreamHub *hub);

    // The hub's "conversation id" of a stream: its keys are agent-stream:{ds:<tenant>:<name>}
    // and ds-meta:{ds:<tenant>:<name>} (one hash slot).
    static QByteArray streamId(const QByteArray &tenant, const QByteArray &name);
    static QByteArray metaKey(const QByteArray &streamId);

    struct Settings
    {
        QByteArray contentType, normalizedType;
        QByteArray ttl, ttlMs;     // "" = none
        QByteArray expiresAt, expiresAtMs;
        bool closed = false;
        QByteArray forkedFrom;     // the source's stream id ("" = not a fork)
        QByteArray forkOffset;     // Redis id
        QByteArray forkSubOffset;  // "" = none (compared on an idempotent re-create)
    };
    struct Created
    {
        QByteArray status; // created | exists | conflict
        EntryId tail;
        bool closed = false;
        QByteArray contentType;
    };
    // entries: (Redis id or "*", bytes), in order.
    void create(const QByteArray &id, const Settings &settings, const QList<QPair<QByteArray, QByteArray>> &entries,
                std::function<void(const Created &, const RedisError &)> done);

    struct Append
    {
        QByteArray normalizedType; // "" when there is no body
        bool close = false;
        QByteArray streamSeq;
        QByteArray producerId, epoch, seq; // all or none
        QList<QByteArray> messages;
    };
    struct Appended
    {
        QByteArray status; // see DurableScripts::kAppend
        EntryId tail;
        bool closed = false;
        QByteArray a, b;
    };
    void append(const QByteArray &id, const Append &request, std::function<void(const Appended &, const RedisError &)> done);

    struct Read
    {
        QByteArray status; // ok | notfound | gone
        QByteArray contentType;
        bool closed = false;
        EntryId tail;
        QByteArray ttl, expiresAt;
        QList<StreamEntry> entries; // data entries only
        bool sawEnd = false;        // the close marker was among what was read
        int rawCount = 0;           // entries Redis returned (data and marker)
    };
    // Entries after `after` (at most count; 0 = metadata only), up to `until` inclusive when
    // not null. touch: a read (slides a TTL); HEAD is not.
    void read(const QByteArray &id, const EntryId &after, int count, bool touch, const EntryId &until,
              std::function<void(const Read &, const RedisError &)> done);

    // status: deleted (forkedFrom: the source to release) | soft | notfound | gone
    void remove(const QByteArray &id, std::function<void(const QByteArray &status, const QByteArray &forkedFrom, const RedisError &)> done);
    // A fork's reference on its source (+1 / -1); a soft-deleted source whose last fork goes is
    // removed, and its own source released in turn.
    void forkRef(const QByteArray &id, int delta);

private:
    void eval(const char *script, const QList<QByteArray> &keys, const QList<QByteArray> &args,
              std::function<void(const RedisReply &, const RedisError &)> done);
    void wake(const QByteArray &id, const EntryId &tail);

    RedisRouter *m_router;
    StreamHub *m_hub;
};
