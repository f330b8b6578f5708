#include "http/agent/AgentEventEncoder.h"

#include "http/Sse.h"

#include <QJsonDocument>
#include <QJsonObject>

AgentEventEncoder::AgentEventEncoder(ResponseFormat format, int retryMs)
    : m_format(format)
    , m_retryMs(retryMs)
{
}

QByteArray AgentEventEncoder::contentType() const
{
    return m_format == ResponseFormat::Sse ? "text/event-stream" : "text/plain; charset=utf-8";
}

QByteArray AgentEventEncoder::prologue() const
{
    return m_format == ResponseFormat::Sse ? Sse::retry(m_retryMs) : QByteArray(); // a useful first line
}

QByteArray AgentEventEncoder::keepAlive() const
{
    return m_format == ResponseFormat::Sse ? Sse::comment("keep-alive") : QByteArray();
}

bool AgentEventEncoder::append(QByteArray &out, const EntryView &entry)
{
    appendFrame(out, entry, m_format);
    return false; // the hub ends the stream at the newest terminal entry (every turn is replayed)
}

void AgentEventEncoder::appendUnavailable(QByteArray &out, const EntryId &last)
{
    // Its id is the last entry delivered, so the client can resume later without a gap.
    StreamEntry e;
    e.idText = last.isNull() ? QByteArray() : last.toBytes();
    e.fields = {{"type", "error"}, {"code", "unavailable"}, {"message", "Redis is unavailable; resume from the last event id later"}};
    appendFrame(out, EntryView::of(e), m_format);
}

QByteArray AgentEventEncoder::frame(const StreamEntry &entry, ResponseFormat format)
{
    QByteArray out;
    appendFrame(out, EntryView::of(entry), format);
    return out;
}

void AgentEventEncoder::appendFrame(QByteArray &out, const EntryView &entry, ResponseFormat format)
{
    const QByteArrayView type = entry.type();
    const bool sse = format == ResponseFormat::Sse;
    if (type == "message") {
        if (sse)
            Sse::appendEvent(out, entry.idText, "message", entry.field("text"));
        else
            out.append(entry.field("text"));
    } else if (type == "done") {
        if (sse)
            Sse::appendEvent(out, entry.idText, "done", "[DONE]");
    } else if (type == "error") {
        const QByteArrayView code = entry.field("code").isEmpty() ? QByteArrayView("agent_error") : entry.field("code");
        const QByteArrayView message = entry.field("message");
        if (!sse) {
            out.append("\n[Error: ").append(message).append("]\n");
            return;
        }
        const QJsonObject o{{QStringLiteral("code"), QString::fromUtf8(code)}, {QStringLiteral("message"), QString::fromUtf8(message)}};
        Sse::appendEvent(out, entry.idText, "error", QJsonDocument(o).toJson(QJsonDocument::Compact));
    } else if (type == "turn") {
        const int turn = entry.field("turn").toByteArray().toInt();
        const QByteArray prompt = entry.field("prompt").toByteArray();
        if (!sse) {
            if (turn > 1)
                out.append("\n\n> " + prompt.split('\n').join("\n> ") + "\n\n");
            return;
        }
        const QJsonObject o{{QStringLiteral("turn"), turn}, {QStringLiteral("prompt"), QString::fromUtf8(prompt)}};
        Sse::appendEvent(out, entry.idText, "turn", QJsonDocument(o).toJson(QJsonDocument::Compact));
    } else if (type == "tool") {
        // The tools an agent ran: shown by /v1/responses; the sample's API has no event for them.
    } else if (sse) {
        // Unknown types pass through as named SSE events; plain text has no place for them.
        Sse::appendEvent(out, entry.idText, type, entry.field("text"));
    }
}
