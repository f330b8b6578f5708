#include "http/responses/ResponseEventEncoder.h"

#include <QJsonDocument>
#include <QJsonObject>

ResponseEventEncoder::ResponseEventEncoder(const ResponseId &id, qint64 startingAfter, std::shared_ptr<ResponseCheckpoints> checkpoints,
                                           const ResponseEvents *from)
    : m_id(id)
    , m_events(from ? *from : ResponseEvents(id))
    , m_startingAfter(startingAfter)
    , m_checkpoints(std::move(checkpoints))
{
    m_nextCheckpoint = (m_events.eventCount() / ResponseCheckpoints::kEvery + 1) * ResponseCheckpoints::kEvery;
}

qsizetype ResponseEventEncoder::sizeHint(const QList<EntryView> &entries) const
{
    qsizetype text = 0;
    for (const EntryView &e : entries)
        text += e.field("text").size();
    qsizetype n = text + 240 * entries.size();
    if (!entries.isEmpty() && entries.constLast().isTerminal()) // four done events repeat the answer, with its escapes (an eighth more)
        n += 4 * (m_events.answerBytes() + text) * 9 / 8 + 4096;
    return n;
}

bool ResponseEventEncoder::append(QByteArray &out, const EntryView &entry)
{
    const bool complete = m_events.feed(entry, ResponseEvents::Sink{nullptr, &out, m_startingAfter});
    if (m_checkpoints && !complete && m_events.eventCount() >= m_nextCheckpoint) {
        m_checkpoints->offer(m_id, m_events, entry.id);
        m_nextCheckpoint = (m_events.eventCount() / ResponseCheckpoints::kEvery + 1) * ResponseCheckpoints::kEvery;
    }
    return complete;
}

void ResponseEventEncoder::appendUnavailable(QByteArray &out, const EntryId &last)
{
    Q_UNUSED(last);
    // Flat, as OpenAI's `error` event; the client resumes with starting_after = its last number.
    const QJsonObject o{{QStringLiteral("type"), QStringLiteral("error")},
                        {QStringLiteral("code"), QStringLiteral("unavailable")},
                        {QStringLiteral("message"), QStringLiteral("Redis is unavailable; resume with starting_after later")},
                        {QStringLiteral("param"), QJsonValue()},
                        {QStringLiteral("sequence_number"), m_events.eventCount()}};
    out.append("event: error\ndata: ").append(QJsonDocument(o).toJson(QJsonDocument::Compact)).append("\n\n");
}
