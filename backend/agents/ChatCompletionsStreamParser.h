#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QMap>
#include <QString>

// Incremental parser of a streamed Chat Completions response (`"stream": true`), as sent by
// api.openai.com, Azure OpenAI, Ollama, llama.cpp and vLLM:
//
//   data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n
//   data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",...}]}}]}\n\n
//   data: [DONE]\n\n
//
// Pure: bytes in, events out, no I/O. Bytes may be cut anywhere (inside a line, a CRLF, a UTF-8
// character): only complete lines are decoded, and a UTF-8 character never contains a line
// break byte, so text always comes out whole. SSE rules: LF, CRLF or CR end a line, an empty
// line ends an event, several `data:` lines are joined with "\n", `:` lines are comments
// (keep-alives), a leading BOM is dropped. Tool calls are assembled across chunks by `index`.
//
//   ChatCompletionsStreamParser p;
//   for (const auto &e : p.feed(bytes)) ...   // Content, Finish, Done, Error
//   p.toolCalls(), p.content(), p.isDone()
class ChatCompletionsStreamParser
{
public:
    struct Event
    {
        enum Type {
            Content, // text: the next piece of the answer
            Finish,  // text: finish_reason ("stop", "tool_calls", "length", "content_filter")
            Done,    // `data: [DONE]`: nothing follows
            Error,   // text: the API's error message, or why a chunk could not be parsed
        };
        Type type;
        QString text;
        bool operator==(const Event &o) const { return type == o.type && text == o.text; }
    };
    struct ToolCall
    {
        QString id;
        QString name;
        QString arguments; // JSON text, concatenated from the deltas
        bool operator==(const ToolCall &o) const { return id == o.id && name == o.name && arguments == o.arguments; }
    };

    // Parses what `bytes` completes; events of complete SSE events only. Ignores everything
    // after [DONE] and after an Error.
    QList<Event> feed(QByteArrayView bytes);
    // End of input: dispatches a last event that lacked its blank line (lenient).
    QList<Event> finish();

    bool isDone() const { return m_done; }
    bool hasError() const { return m_failed; }
    // Whether any `data:` event arrived (tells "connection lost" from "not a stream").
    bool sawData() const { return m_sawData; }
    QString finishReason() const { return m_finishReason; }
    QString content() const { return m_content; }    // all content so far
    QList<ToolCall> toolCalls() const;                // ordered by index
    qsizetype bufferedBytes() const { return m_line.size() + m_data.size(); }

    // Largest line or event accepted; more is an Error (a misbehaving server must not eat memory).
    static constexpr qsizetype kMaxEventBytes = 8 * 1024 * 1024;

private:
    void processLine(QByteArrayView line, QList<Event> *out);
    void dispatch(QList<Event> *out);
    void handleData(const QByteArray &data, QList<Event> *out);
    void fail(const QString &message, QList<Event> *out);

    QByteArray m_line;      // the incomplete line at the end of the input so far
    QByteArray m_data;      // data of the current event
    QByteArray m_eventName; // `event:` of the current event
    bool m_hasData = false;
    bool m_skipLf = false; // the last byte was CR: a following LF belongs to it
    bool m_firstLine = true;
    bool m_done = false;
    bool m_failed = false;
    bool m_sawData = false;
    QString m_content;
    QString m_finishReason;
    QMap<int, ToolCall> m_toolCalls;
};
