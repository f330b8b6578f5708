#include "http/responses/ResponseCheckpoints.h"

void ResponseCheckpoints::offer(const ResponseId &id, const ResponseEvents &events, const EntryId &entry)
{
    if (events.complete() || !events.started() || events.eventCount() < kEvery)
        return;
    const QByteArray key = id.toBytes();
    Saved &saved = m_saved[key];
    const int last = saved.checkpoints.isEmpty() ? 0 : saved.checkpoints.constLast().events.eventCount();
    if (events.eventCount() / kEvery <= last / kEvery || saved.checkpoints.size() >= kPerResponse) {
        if (saved.checkpoints.isEmpty())
            m_saved.remove(key);
        return;
    }
    saved.checkpoints.append({events, entry});
    saved.used = ++m_clock;
    m_bytes += costOf(saved.checkpoints.constLast());
    evict();
}

std::optional<ResponseCheckpoints::Checkpoint> ResponseCheckpoints::find(const ResponseId &id, qint64 startingAfter)
{
    const auto it = m_saved.find(id.toBytes());
    if (it == m_saved.end())
        return std::nullopt;
    const QList<Checkpoint> &list = it->checkpoints;
    for (qsizetype i = list.size() - 1; i >= 0; --i) {
        if (list.at(i).events.eventCount() <= startingAfter + 1) { // events 0 .. count-1 are not sent
            it->used = ++m_clock;
            return list.at(i);
        }
    }
    return std::nullopt;
}

void ResponseCheckpoints::forget(const ResponseId &id)
{
    const auto it = m_saved.find(id.toBytes());
    if (it == m_saved.end())
        return;
    for (const Checkpoint &c : it->checkpoints)
        m_bytes -= costOf(c);
    m_saved.erase(it);
}

void ResponseCheckpoints::evict()
{
    while (m_bytes > m_budget && !m_saved.isEmpty()) {
        auto oldest = m_saved.begin();
        for (auto it = m_saved.begin(); it != m_saved.end(); ++it)
            if (it->used < oldest->used)
                oldest = it;
        for (const Checkpoint &c : oldest->checkpoints)
            m_bytes -= costOf(c);
        m_saved.erase(oldest);
    }
}
