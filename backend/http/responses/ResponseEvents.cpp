#include "http/responses/ResponseEvents.h"

#include "http/responses/JsonText.h"

#include <QJsonDocument>

#include <charconv>
#include <utility>

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
    , m_hex(id.toBytes().mid(5))
{
}

// The done events and the response object carry whole answers: instead of converting each
// to UTF-16 and back through QJsonDocument, the object holds a marker per text, and the text,
// escaped once (quoted()), is copied into the serialized event in the marker's place
// (byte-equal, tst_responses checks).
static QString textMarker(qsizetype text)
{
    return QStringLiteral("\u0001agent-streams-text-%1\u0001").arg(text);
}

const QByteArray &ResponseEvents::quoted(qsizetype text) const
{
    if (text < m_quoted.size()) {
        QByteArray &q = m_quoted[text];
        if (q.isNull())
            JsonText::appendQuoted(q, m_texts.at(text));
        return q;
    }
    if (!m_openQuotedValid) { // the open message, escaped again only after it grew
        m_openQuoted.clear();
        JsonText::appendQuoted(m_openQuoted, m_text);
        m_openQuotedValid = true;
    }
    return m_openQuoted;
}

void ResponseEvents::appendSpliced(QByteArray &out, QByteArrayView json) const
{
    static constexpr QByteArrayView kOpen("\"\\u0001agent-streams-text-");
    static constexpr QByteArrayView kClose("\\u0001\"");
    qsizetype from = 0;
    for (;;) {
        const qsizetype at = json.indexOf(kOpen, from);
        const qsizetype digits = at + kOpen.size();
        const qsizetype close = at < 0 ? -1 : json.indexOf(kClose, digits);
        if (close < 0) {
            out.append(json.sliced(from));
            return;
        }
        bool ok = false;
        const qsizetype text = json.sliced(digits, close - digits).toLongLong(&ok);
        if (!ok || text < 0 || text > m_texts.size()) { // not one of ours: as it is
            out.append(json.sliced(from, close + kClose.size() - from));
        } else {
            out.append(json.sliced(from, at - from));
            out.append(quoted(text));
        }
        from = close + kClose.size();
    }
}

template<typename Body>
void ResponseEvents::emitEvent(const Sink &sink, const char *type, Body body)
{
    if (wants(sink)) {
        m_marking = true;
        QJsonObject o = body();
        m_marking = false;
        o.insert(QStringLiteral("type"), QLatin1String(type));
        o.insert(QStringLiteral("sequence_number"), m_sequence);
        const QByteArray json = QJsonDocument(o).toJson(QJsonDocument::Compact); // small: texts are markers
        if (sink.events) {
            QByteArray spliced;
            appendSpliced(spliced, json);
            sink.events->append({QByteArray(type), spliced});
        }
        if (sink.sse) {
            sink.sse->append("event: ").append(type).append("\ndata: ");
            appendSpliced(*sink.sse, json);
            sink.sse->append("\n\n");
        }
    }
    ++m_sequence;
}

// The hot path (one event per chunk): written by hand, in the order QJsonDocument would write
// it (keys sorted), which tst_responses checks. ASCII text (the common case) is sized once and
// the event copied in with one resize; the same escaped bytes extend the open message's quoted
// text (skipped events too), so the done events need no second pass over the answer.
void ResponseEvents::emitDelta(const Sink &sink, QByteArrayView delta)
{
    using namespace JsonText;
    static constexpr QByteArrayView kEvent("event: response.output_text.delta\ndata: ");
    static constexpr QByteArrayView kHead("{\"content_index\":0,\"delta\":\"");
    static constexpr QByteArrayView kTail(",\"type\":\"response.output_text.delta\"}");
    const bool wanted = wants(sink);
    bool ascii = true;
    const qsizetype escaped = escapedSize(delta, &ascii);
    if (!ascii) // a character split between two chunks escapes differently alone: the whole text is escaped again when needed
        m_openQuotedValid = false;
    if (!wanted) {
        if (m_openQuotedValid) {
            char *q = grow(m_openQuoted, escaped) - 1; // over the closing quote
            *writeEscaped(q, delta, escaped) = '"';
        }
        ++m_sequence;
        return;
    }
    char number[24];
    const auto numberEnd = std::to_chars(number, number + sizeof number, m_sequence).ptr;
    const QByteArrayView sequence(number, numberEnd - number);
    QByteArray json;
    QByteArray &out = sink.events ? json : *sink.sse; // straight into the SSE bytes when that is the only sink
    const QByteArrayView event = sink.events ? QByteArrayView() : kEvent;
    const QByteArrayView end = sink.events ? QByteArrayView() : QByteArrayView("\n\n");
    if (ascii) {
        char *p = put(grow(out, event.size() + kHead.size() + escaped + 1 + m_deltaTail.size() + sequence.size() + kTail.size() + end.size()),
                      event);
        char *text = put(p, kHead);
        p = writeEscaped(text, delta, escaped);
        *p++ = '"';
        p = put(put(put(p, m_deltaTail), sequence), kTail);
        put(p, end);
        if (m_openQuotedValid) {
            char *q = grow(m_openQuoted, escaped) - 1; // over the closing quote
            *put(q, QByteArrayView(text, escaped)) = '"';
        }
    } else {
        out.append(event).append(kHead.chopped(1));
        JsonText::appendQuoted(out, delta);
        put(put(put(put(grow(out, m_deltaTail.size() + sequence.size() + kTail.size() + end.size()), m_deltaTail), sequence), kTail), end);
    }
    if (sink.events)
        sink.events->append({QByteArray("response.output_text.delta"), json});
    ++m_sequence;
}

QString ResponseEvents::messageId() const
{
    return QString::fromLatin1(m_messageId);
}

QJsonObject ResponseEvents::position() const
{
    return {{QStringLiteral("item_id"), messageId()}, {QStringLiteral("output_index"), int(m_items.size())}, {QStringLiteral("content_index"), 0}};
}

QJsonObject ResponseEvents::textPart(qsizetype text) const
{
    return {{QStringLiteral("type"), QStringLiteral("output_text")},
            {QStringLiteral("text"), m_marking ? textMarker(text) : str(text < m_texts.size() ? m_texts.at(text) : m_text)},
            {QStringLiteral("annotations"), QJsonArray()},
            {QStringLiteral("logprobs"), QJsonArray()}};
}

QJsonObject ResponseEvents::messageItem(const char *status, bool withContent) const
{
    return {{QStringLiteral("id"), messageId()},
            {QStringLiteral("type"), QStringLiteral("message")},
            {QStringLiteral("status"), QLatin1String(status)},
            {QStringLiteral("role"), QStringLiteral("assistant")},
            {QStringLiteral("content"), m_messageOpen && withContent ? QJsonArray{textPart(m_texts.size())} : QJsonArray()}};
}

QJsonArray ResponseEvents::output() const
{
    QJsonArray out;
    for (qsizetype i = 0; i < m_items.size(); ++i) {
        QJsonObject item = m_items.at(i).toObject();
        if (m_textOf.at(i) >= 0)
            item.insert(QStringLiteral("content"), QJsonArray{textPart(m_textOf.at(i))});
        out.append(item);
    }
    if (m_messageOpen)
        out.append(messageItem(m_status == "in_progress" ? "in_progress" : "incomplete"));
    return out;
}

void ResponseEvents::openMessage(const Sink &sink)
{
    // The first message keeps the plain id; later ones (after a tool call) add their index.
    m_messageId = "msg_" + m_hex + (m_items.isEmpty() ? QByteArray() : "_" + QByteArray::number(m_items.size()));
    m_deltaTail = ",\"item_id\":\"" + m_messageId + "\",\"logprobs\":[],\"output_index\":" + QByteArray::number(m_items.size())
        + ",\"sequence_number\":";
    emitEvent(sink, "response.output_item.added", [this] { // content [] (the SDK requires it)
        return QJsonObject{{QStringLiteral("output_index"), int(m_items.size())}, {QStringLiteral("item"), messageItem("in_progress")}};
    });
    m_messageOpen = true;
    m_text.clear();
    m_openQuoted = "\"\"";
    m_openQuotedValid = true;
    emitEvent(sink, "response.content_part.added", [this] {
        QJsonObject o = position();
        o.insert(QStringLiteral("part"), textPart(m_texts.size()));
        return o;
    });
}

void ResponseEvents::closeMessage(const Sink &sink)
{
    if (!m_messageOpen)
        return;
    emitEvent(sink, "response.output_text.done", [this] {
        QJsonObject o = position();
        o.insert(QStringLiteral("text"), textPart(m_texts.size()).value(QStringLiteral("text")));
        o.insert(QStringLiteral("logprobs"), QJsonArray());
        return o;
    });
    emitEvent(sink, "response.content_part.done", [this] {
        QJsonObject o = position();
        o.insert(QStringLiteral("part"), textPart(m_texts.size()));
        return o;
    });
    emitEvent(sink, "response.output_item.done",
              [&] { return QJsonObject{{QStringLiteral("output_index"), int(m_items.size())}, {QStringLiteral("item"), messageItem("completed")}}; });
    QJsonObject item = messageItem("completed", false);
    item.remove(QStringLiteral("content")); // output() adds it from m_texts
    m_items.append(item);
    m_textOf.append(m_texts.size());
    m_quoted.append(m_openQuotedValid ? std::exchange(m_openQuoted, {}) : QByteArray()); // null: escaped when needed
    m_texts.append(std::exchange(m_text, {}));
    m_openQuotedValid = false;
    m_messageOpen = false;
}

void ResponseEvents::addToolCall(const Sink &sink, const EntryView &entry)
{
    closeMessage(sink);
    const int index = int(m_items.size());
    const QString id = QStringLiteral("fc_%1_%2").arg(QString::fromLatin1(m_hex)).arg(index);
    const QString arguments = str(entry.field("arguments"));
    QJsonObject item{{QStringLiteral("id"), id},
                     {QStringLiteral("type"), QStringLiteral("function_call")},
                     {QStringLiteral("call_id"), str(entry.field("call_id"))},
                     {QStringLiteral("name"), str(entry.field("name"))},
                     {QStringLiteral("arguments"), QString()},
                     {QStringLiteral("status"), QStringLiteral("in_progress")}};
    const QJsonObject at{{QStringLiteral("item_id"), id}, {QStringLiteral("output_index"), index}};
    emitEvent(sink, "response.output_item.added", [&] { return QJsonObject{{QStringLiteral("output_index"), index}, {QStringLiteral("item"), item}}; });
    emitEvent(sink, "response.function_call_arguments.delta", [&] {
        QJsonObject o = at;
        o.insert(QStringLiteral("delta"), arguments);
        return o;
    });
    emitEvent(sink, "response.function_call_arguments.done", [&] {
        QJsonObject o = at;
        o.insert(QStringLiteral("arguments"), arguments);
        o.insert(QStringLiteral("name"), item.value(QStringLiteral("name")));
        return o;
    });
    item.insert(QStringLiteral("arguments"), arguments);
    item.insert(QStringLiteral("status"), QStringLiteral("completed"));
    emitEvent(sink, "response.output_item.done", [&] { return QJsonObject{{QStringLiteral("output_index"), index}, {QStringLiteral("item"), item}}; });
    m_items.append(item);
    m_textOf.append(-1);
}

bool ResponseEvents::feed(const EntryView &entry, const Sink &sink)
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
        emitEvent(sink, "response.created", [this] { return QJsonObject{{QStringLiteral("response"), response()}}; });
        emitEvent(sink, "response.queued", [this] { return QJsonObject{{QStringLiteral("response"), response()}}; });
        m_status = "in_progress";
        emitEvent(sink, "response.in_progress", [this] { return QJsonObject{{QStringLiteral("response"), response()}}; });
        return false;
    }
    if (type == "message") {
        if (!m_messageOpen)
            openMessage(sink);
        const QByteArrayView delta = entry.field("text");
        JsonText::put(JsonText::grow(m_text, delta.size()), delta); // append() costs more than the copy
        emitDelta(sink, delta);
        return false;
    }
    if (type == "tool") {
        addToolCall(sink, entry);
        return false;
    }
    if (type != "done" && type != "error" && type != "turn")
        return false; // nothing the Responses API shows
    m_complete = true;
    m_completedAt = qint64(entry.id.ms / 1000);
    if (type == "done") {
        closeMessage(sink);
        m_status = "completed";
        emitEvent(sink, "response.completed", [this] { return QJsonObject{{QStringLiteral("response"), response()}}; });
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
    emitEvent(sink, "response.failed", [this] { return QJsonObject{{QStringLiteral("response"), response()}}; });
    return true;
}

qsizetype ResponseEvents::answerBytes() const
{
    qsizetype n = m_text.size();
    for (const QByteArray &t : m_texts)
        n += t.size();
    return n;
}

QJsonObject ResponseEvents::response() const
{
    QJsonObject o{{QStringLiteral("id"), QString::fromLatin1(m_id.toBytes())},
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
                  {QStringLiteral("output"), output()},
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
        item.insert(QStringLiteral("id"), QStringLiteral("msg_%1_in%2").arg(QString::fromLatin1(m_hex)).arg(i));
        item.insert(QStringLiteral("status"), QStringLiteral("completed"));
        items.append(item);
    }
    return items;
}
