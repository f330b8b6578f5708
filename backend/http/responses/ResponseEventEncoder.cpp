#include "http/responses/ResponseEventEncoder.h"

#include <QJsonDocument>
#include <QJsonObject>

ResponseEventEncoder::ResponseEventEncoder(const ResponseId &id, qint64 startingAfter)
    : m_events(id)
    , m_startingAfter(startingAfter)
{
}

void ResponseEventEncoder::appendEvent(QByteArray &out, const ResponseEvents::Event &event)
{
    out.append("event: ").append(event.type).append("\ndata: ").append(event.data).append("\n\n");
}

bool ResponseEventEncoder::append(QByteArray &out, const EntryView &entry)
{
    m_scratch.clear();
    const qint64 first = m_events.eventCount();
    const bool complete = m_events.feed(entry, &m_scratch);
    for (qsizetype i = 0; i < m_scratch.size(); ++i)
        if (first + i > m_startingAfter)
            appendEvent(out, m_scratch.at(i));
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
    appendEvent(out, {"error", QJsonDocument(o).toJson(QJsonDocument::Compact)});
}
