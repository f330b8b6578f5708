#include "http/responses/ResponseEventEncoder.h"

#include <QJsonDocument>
#include <QJsonObject>

ResponseEventEncoder::ResponseEventEncoder(const ResponseId &id, qint64 startingAfter)
    : m_events(id)
    , m_startingAfter(startingAfter)
{
}

bool ResponseEventEncoder::append(QByteArray &out, const EntryView &entry)
{
    return m_events.feed(entry, ResponseEvents::Sink{nullptr, &out, m_startingAfter});
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
