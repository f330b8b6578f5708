#include "http/responses/ResponseEvents.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace {
QString str(QByteArrayView v)
{
    return QString::fromUtf8(v.data(), v.size());
}
QJsonValue orNull(const QJsonObject &o, const QString &key)
{
    const QJsonValue v = o.value(key);
    return v.isUndefined() ? QJsonValue() : v;
}
} // namespace

ResponseEvents::ResponseEvents(const ResponseId &id)
    : m_id(id)
    , m_responseId(QString::fromLatin1(id.toBytes()))
    , m_itemId(QString::fromLatin1(id.withPrefix("msg_")))
{
}

void ResponseEvents::emitEvent(QList<Event> *out, const char *type, QJsonObject body)
{
    const int sequence = m_sequence++;
    if (!out)
        return;
    body.insert(QStringLiteral("type"), QLatin1String(type));
    body.insert(QStringLiteral("sequence_number"), sequence);
    out->append({QByteArray(type), QJsonDocument(body).toJson(QJsonDocument::Compact)});
}

QJsonObject ResponseEvents::textPart() const
{
    return {{QStringLiteral("type"), QStringLiteral("output_text")},
            {QStringLiteral("text"), m_text},
            {QStringLiteral("annotations"), QJsonArray()},
            {QStringLiteral("logprobs"), QJsonArray()}};
}

QJsonObject ResponseEvents::messageItem(const char *status) const
{
    return {{QStringLiteral("id"), m_itemId},
            {QStringLiteral("type"), QStringLiteral("message")},
            {QStringLiteral("status"), QLatin1String(status)},
            {QStringLiteral("role"), QStringLiteral("assistant")},
            {QStringLiteral("content"), m_itemOpen ? QJsonArray{textPart()} : QJsonArray()}};
}

bool ResponseEvents::feed(const EntryView &entry, QList<Event> *out)
{
    if (m_complete)
        return true;
    const QByteArrayView type = entry.type();
    if (!m_started) {
        if (type != "turn" || entry.id != m_id.turnEntry)
            return false; // an earlier turn of the conversation
        m_started = true;
        m_request = QJsonDocument::fromJson(entry.field("request").toByteArray()).object();
        m_createdAt = qint64(entry.id.ms / 1000);
        m_status = "queued";
        emitEvent(out, "response.created", {{QStringLiteral("response"), response()}});
        emitEvent(out, "response.queued", {{QStringLiteral("response"), response()}});
        m_status = "in_progress";
        emitEvent(out, "response.in_progress", {{QStringLiteral("response"), response()}});
        return false;
    }
    const QJsonObject position{{QStringLiteral("item_id"), m_itemId}, {QStringLiteral("output_index"), 0}, {QStringLiteral("content_index"), 0}};
    auto at = [&position](std::initializer_list<QPair<QString, QJsonValue>> more) {
        QJsonObject o = position;
        for (const auto &kv : more)
            o.insert(kv.first, kv.second);
        return o;
    };
    if (type == "message") {
        if (!m_itemOpen) {
            emitEvent(out, "response.output_item.added", // content [] (the SDK requires it)
                      {{QStringLiteral("output_index"), 0}, {QStringLiteral("item"), messageItem("in_progress")}});
            m_itemOpen = true;
            emitEvent(out, "response.content_part.added", at({{QStringLiteral("part"), textPart()}}));
        }
        const QString delta = str(entry.field("text"));
        m_text += delta;
        emitEvent(out, "response.output_text.delta", at({{QStringLiteral("delta"), delta}, {QStringLiteral("logprobs"), QJsonArray()}}));
        return false;
    }
    if (type != "done" && type != "error" && type != "turn")
        return false; // nothing the Responses API shows
    m_complete = true;
    m_completedAt = qint64(entry.id.ms / 1000);
    if (type == "done") {
        if (m_itemOpen) {
            emitEvent(out, "response.output_text.done", at({{QStringLiteral("text"), m_text}, {QStringLiteral("logprobs"), QJsonArray()}}));
            emitEvent(out, "response.content_part.done", at({{QStringLiteral("part"), textPart()}}));
            m_itemDone = true;
            emitEvent(out, "response.output_item.done", {{QStringLiteral("output_index"), 0}, {QStringLiteral("item"), messageItem("completed")}});
        }
        m_status = "completed";
        emitEvent(out, "response.completed", {{QStringLiteral("response"), response()}});
        return true;
    }
    const QByteArray code = type == "turn" ? QByteArray("interrupted") : entry.field("code").toByteArray();
    if (code == "cancelled") {
        m_status = "cancelled"; // OpenAI has no stream event for it: the stream ends here
        return true;
    }
    m_status = "failed";
    m_error = {{QStringLiteral("code"), code.isEmpty() ? QStringLiteral("server_error") : QString::fromUtf8(code)},
               {QStringLiteral("message"), type == "turn" ? QStringLiteral("the turn ended without an answer") : str(entry.field("message"))}};
    emitEvent(out, "response.failed", {{QStringLiteral("response"), response()}});
    return true;
}

QJsonObject ResponseEvents::response() const
{
    QJsonArray output;
    if (m_itemOpen)
        output.append(messageItem(m_itemDone ? "completed" : m_status == "in_progress" ? "in_progress" : "incomplete"));
    QJsonObject o{{QStringLiteral("id"), m_responseId},
                  {QStringLiteral("object"), QStringLiteral("response")},
                  {QStringLiteral("created_at"), m_createdAt},
                  {QStringLiteral("status"), QString::fromLatin1(m_status)},
                  {QStringLiteral("background"), m_request.value(QStringLiteral("background")).toBool()},
                  {QStringLiteral("error"), m_error.isEmpty() ? QJsonValue() : QJsonValue(m_error)},
                  {QStringLiteral("incomplete_details"), QJsonValue()},
                  {QStringLiteral("instructions"), orNull(m_request, QStringLiteral("instructions"))},
                  {QStringLiteral("max_output_tokens"), QJsonValue()},
                  {QStringLiteral("metadata"), m_request.value(QStringLiteral("metadata")).toObject()},
                  {QStringLiteral("model"), m_request.value(QStringLiteral("model")).toString()},
                  {QStringLiteral("output"), output},
                  {QStringLiteral("parallel_tool_calls"), true},
                  {QStringLiteral("previous_response_id"), orNull(m_request, QStringLiteral("previous_response_id"))},
                  {QStringLiteral("store"), m_request.value(QStringLiteral("store")).toBool(true)},
                  {QStringLiteral("temperature"), 1.0},
                  {QStringLiteral("text"), QJsonObject{{QStringLiteral("format"), QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}}}}},
                  {QStringLiteral("tool_choice"), QStringLiteral("auto")},
                  {QStringLiteral("tools"), QJsonArray()},
                  {QStringLiteral("top_p"), 1.0},
                  {QStringLiteral("truncation"), QStringLiteral("disabled")}};
    if (m_complete && m_status == "completed")
        o.insert(QStringLiteral("completed_at"), m_completedAt);
    return o;
}

QJsonArray ResponseEvents::inputItems() const
{
    QJsonArray items;
    const QJsonArray input = m_request.value(QStringLiteral("input")).toArray();
    for (qsizetype i = 0; i < input.size(); ++i) {
        QJsonObject item = input.at(i).toObject();
        item.insert(QStringLiteral("id"), QStringLiteral("%1_%2").arg(QString::fromLatin1(m_id.withPrefix("msg_"))).arg(i));
        item.insert(QStringLiteral("status"), QStringLiteral("completed"));
        items.append(item);
    }
    return items;
}
