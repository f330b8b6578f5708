#pragma once

#include "http/responses/ResponseEvents.h"

#include <QHash>
#include <QList>
#include <optional>

// Where a resume can start without reading its response from the first entry again: the
// events' state (ResponseEvents) after some entry, saved by the streams of this instance as they
// go past every kEvery events. A resume (`starting_after` N) starts from the latest checkpoint
// whose events are all at or before N and reads only the entries after it; the state is what
// feeding the entries up to there makes, so the bytes are the same as a full read on any
// instance (tst_responses checks). Entries never change once stored, so a checkpoint stays
// true; a deleted response is dropped (its lookup refuses it first anyway). Bounded by the
// bytes of the answers it holds, the least recently used response going first.
//
//   if (auto c = checkpoints->find(id, startingAfter)) { state = c->events; after = c->entry; }
//   ... checkpoints->offer(id, events, entry.id);   // by the encoder, after each entry
class ResponseCheckpoints
{
public:
    struct Checkpoint
    {
        ResponseEvents events; // after `entry` was fed
        EntryId entry;
    };
    static constexpr int kEvery = 1024;   // events between two checkpoints of a response
    static constexpr int kPerResponse = 64;

    explicit ResponseCheckpoints(qsizetype budgetBytes = 32 << 20)
        : m_budget(budgetBytes)
    {
    }

    // Saves the state when it passed the next multiple of kEvery events (cheap otherwise: the
    // caller calls it after every entry). A complete response needs none.
    void offer(const ResponseId &id, const ResponseEvents &events, const EntryId &entry);
    // The latest checkpoint whose events are all numbered at or below startingAfter.
    std::optional<Checkpoint> find(const ResponseId &id, qint64 startingAfter);
    void forget(const ResponseId &id);
    qsizetype bytes() const { return m_bytes; }

private:
    struct Saved
    {
        QList<Checkpoint> checkpoints; // by event count, ascending
        quint64 used = 0;              // the LRU clock when last saved or found
    };
    void evict();
    static qsizetype costOf(const Checkpoint &c) { return 2 * c.events.answerBytes() + 2048; }

    QHash<QByteArray, Saved> m_saved; // by response id
    qsizetype m_budget;
    qsizetype m_bytes = 0;
    quint64 m_clock = 0;
};
