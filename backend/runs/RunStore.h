#pragma once

#include "runs/RunError.h"
#include "streams/StreamEntry.h"

#include <QByteArray>
#include <functional>

class RedisRouter;
class RunManager;
class StreamHub;

// The read side of runs for the HTTP families: lookups, status records and cancel, each with
// the tenant check done here and only here. `tenant` is the caller's tenant, or "*" when keys
// are off (any caller may see any conversation). Another tenant's conversation is NotFound:
// a caller learns nothing of it. Callbacks run on the owning thread, once.
//
//   store->lookup(id, tenant, [](const RunStore::Lookup &run, const RunError &error) {...});
class RunStore
{
public:
    RunStore(RedisRouter *query, RunManager *runs, StreamHub *hub);

    struct Lookup
    {
        QByteArray status;   // run record's status ("" when it has none)
        EntryId last;        // newest entry of the stream (null when empty)
        QByteArray lastType; // its type
        bool running = false; // queued/in_progress, or running in this process
        // Nothing will follow an entry at or after `last`.
        bool ended() const { return !running && (lastType == "done" || lastType == "error"); }
    };
    // The stream and run record of a conversation. Not found when neither exists (but a run
    // this process has just started is found before its first write is stored).
    void lookup(const QByteArray &conversationId, const QByteArray &tenant, std::function<void(const Lookup &, const RunError &)> done);
    // The run record's fields (the tenant removed).
    void record(const QByteArray &conversationId, const QByteArray &tenant, std::function<void(const FieldList &, const RunError &)> done);
    // Cancels the running turn, wherever it runs. done(status after it, whether this call
    // cancelled it): a finished run keeps its status (cancelling again changes nothing).
    void cancel(const QByteArray &conversationId, const QByteArray &tenant,
                std::function<void(const QByteArray &status, bool cancelled, const RunError &)> done);

    // The conversation's entries from `from` on (at most count, 0 = all), in a callback that
    // may read them in place. NotFound when that turn was hidden (hideTurn).
    void entriesFrom(const QByteArray &conversationId, const EntryId &from, int count,
                     std::function<void(const QList<EntryView> &, const RunError &)> done);
    // Hides one turn from the lookups above (a deleted response); the stream keeps it.
    void hideTurn(const QByteArray &conversationId, const EntryId &turnEntry, std::function<void(const RunError &)> done);

private:
    RedisRouter *m_query;
    RunManager *m_runs;
    StreamHub *m_hub;
};
