#include "agents/ChatCompletionsStreamParser.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace {
constexpr int kMaxToolCallIndex = 1024;
}

QList<ChatCompletionsStreamParser::Event> ChatCompletionsStreamParser::feed(QByteArrayView bytes)
{
    QList<Event> out;
    qsizetype i = 0;
    const qsizetype n = bytes.size();
    while (i < n && !m_done && !m_failed) {
        if (m_skipLf) {
            m_skipLf = false;
            if (bytes[i] == '\n') {
                ++i;
                continue;
            }
        }
        qsizetype j = i;
        while (j < n && bytes[j] != '\n' && bytes[j] != '\r')
            ++j;
        if (j == n) { // no line end yet: keep the tail for the next read
            m_line.append(bytes.sliced(i).data(), n - i);
            if (m_line.size() > kMaxEventBytes)
                fail(QStringLiteral("a line of the stream exceeds %1 bytes").arg(kMaxEventBytes), &out);
            break;
        }
        m_skipLf = bytes[j] == '\r';
        if (m_line.isEmpty()) {
            processLine(bytes.sliced(i, j - i), &out);
        } else {
            m_line.append(bytes.sliced(i, j - i).data(), j - i);
            const QByteArray line = std::exchange(m_line, {});
            processLine(line, &out);
        }
        i = j + 1;
    }
    return out;
}

QList<ChatCompletionsStreamParser::Event> ChatCompletionsStreamParser::finish()
{
    QList<Event> out;
    if (m_done || m_failed)
        return out;
    if (!m_line.isEmpty()) {
        const QByteArray line = std::exchange(m_line, {});
        processLine(line, &out);
    }
    if (!m_done && !m_failed)
        dispatch(&out);
    return out;
}

QList<ChatCompletionsStreamParser::ToolCall> ChatCompletionsStreamParser::toolCalls() const
{
    return m_toolCalls.values();
}

void ChatCompletionsStreamParser::fail(const QString &message, QList<Event> *out)
{
    m_failed = true;
    m_line.clear();
    m_data.clear();
    out->append(Event{Event::Error, message});
}

void ChatCompletionsStreamParser::processLine(QByteArrayView line, QList<Event> *out)
{
    if (m_firstLine) {
        m_firstLine = false;
        if (line.startsWith("\xEF\xBB\xBF"))
            line = line.sliced(3);
    }
    if (line.isEmpty()) {
        dispatch(out);
        return;
    }
    if (line.front() == ':')
        return; // comment: a keep-alive such as ": OPENROUTER PROCESSING"
    const qsizetype colon = line.indexOf(':');
    const QByteArrayView field = colon < 0 ? line : line.first(colon);
    QByteArrayView value = colon < 0 ? QByteArrayView() : line.sliced(colon + 1);
    if (value.startsWith(' '))
        value = value.sliced(1);
    if (field == "data") {
        if (m_hasData)
            m_data.append('\n');
        m_data.append(value.data(), value.size());
        m_hasData = true;
        if (m_data.size() > kMaxEventBytes)
            fail(QStringLiteral("an event of the stream exceeds %1 bytes").arg(kMaxEventBytes), out);
    } else if (field == "event") {
        m_eventName = value.toByteArray();
    } // id:, retry: and unknown fields mean nothing for a completion
}

void ChatCompletionsStreamParser::dispatch(QList<Event> *out)
{
    const QByteArray name = std::exchange(m_eventName, {});
    if (!m_hasData)
        return;
    m_hasData = false;
    const QByteArray data = std::exchange(m_data, {});
    m_sawData = true;
    if (name == "error") {
        const QJsonObject error = QJsonDocument::fromJson(data).object().value(QStringLiteral("error")).toObject();
        const QString message = error.value(QStringLiteral("message")).toString();
        fail(message.isEmpty() ? QString::fromUtf8(data) : message, out);
        return;
    }
    handleData(data, out);
}

void ChatCompletionsStreamParser::handleData(const QByteArray &data, QList<Event> *out)
{
    if (data.trimmed() == "[DONE]") {
        m_done = true;
        out->append(Event{Event::Done, {}});
        return;
    }
    QJsonParseError parseError{};
    const QJsonDocument doc = QJsonDocument::fromJson(data, &parseError);
    if (!doc.isObject()) {
        fail(QStringLiteral("the provider sent a malformed stream chunk (%1): %2")
                 .arg(parseError.errorString(), QString::fromUtf8(data.left(200))),
             out);
        return;
    }
    const QJsonObject chunk = doc.object();
    if (const QJsonValue error = chunk.value(QStringLiteral("error")); !error.isUndefined() && !error.isNull()) {
        QString message = error.isObject() ? error.toObject().value(QStringLiteral("message")).toString() : error.toString();
        if (message.isEmpty())
            message = QString::fromUtf8(QJsonDocument(chunk).toJson(QJsonDocument::Compact).left(300));
        fail(message, out);
        return;
    }
    // Azure sends a first chunk with "choices": [] (prompt filter results); usage chunks too.
    const QJsonArray choices = chunk.value(QStringLiteral("choices")).toArray();
    for (const QJsonValue &v : choices) {
        const QJsonObject choice = v.toObject();
        if (choice.value(QStringLiteral("index")).toInt(0) != 0)
            continue; // we never ask for n > 1
        const QJsonObject delta = choice.value(QStringLiteral("delta")).toObject();
        if (const QString text = delta.value(QStringLiteral("content")).toString(); !text.isEmpty()) {
            m_content += text;
            out->append(Event{Event::Content, text});
        }
        const QJsonArray calls = delta.value(QStringLiteral("tool_calls")).toArray();
        for (int position = 0; position < calls.size(); ++position) {
            const QJsonObject call = calls.at(position).toObject();
            const QString id = call.value(QStringLiteral("id")).toString();
            int index;
            if (call.contains(QStringLiteral("index"))) {
                // A model asks for a handful of calls at once; anything else is not an index we
                // can use (and INT_MAX + 1 below would overflow).
                index = qBound(0, call.value(QStringLiteral("index")).toInt(), kMaxToolCallIndex);
            } else {
                // Some servers omit "index": a new id starts a new call, otherwise continue the last.
                bool known = false;
                for (const ToolCall &c : std::as_const(m_toolCalls))
                    known = known || (!id.isEmpty() && c.id == id);
                index = m_toolCalls.isEmpty() ? qMin(position, kMaxToolCallIndex)
                        : (!id.isEmpty() && !known) ? qMin(m_toolCalls.lastKey() + 1, kMaxToolCallIndex)
                                                    : m_toolCalls.lastKey();
            }
            ToolCall &tc = m_toolCalls[index];
            if (!id.isEmpty())
                tc.id = id;
            const QJsonObject function = call.value(QStringLiteral("function")).toObject();
            tc.name += function.value(QStringLiteral("name")).toString();
            const QJsonValue arguments = function.value(QStringLiteral("arguments"));
            if (arguments.isObject()) // Ollama sends an object, not a JSON string
                tc.arguments += QString::fromUtf8(QJsonDocument(arguments.toObject()).toJson(QJsonDocument::Compact));
            else
                tc.arguments += arguments.toString();
        }
        if (const QString reason = choice.value(QStringLiteral("finish_reason")).toString(); !reason.isEmpty()) {
            m_finishReason = reason;
            out->append(Event{Event::Finish, reason});
        }
    }
}
