#pragma once

#include "http/responses/ResponseId.h"
#include "streams/StreamEntry.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QList>

// One response's events, derived from the conversation's stream entries alone (pure): the
// same entries give the same events, byte for byte, with the same sequence numbers, on any
// instance. Feed the entries in order from the response's `turn` entry on (earlier ones are
// skipped); the events follow the order the openai SDK's stream helpers require:
//
//   turn    -> response.created (queued), response.queued, response.in_progress
//   message -> [response.output_item.added, response.content_part.added,] response.output_text.delta
//   tool    -> [the open message's done events,] output_item.added (function_call),
//              function_call_arguments.delta, function_call_arguments.done, output_item.done
//   done    -> [output_text.done, content_part.done, output_item.done,] response.completed
//   error   -> response.failed (code "cancelled": the response is cancelled; no more events)
//
//   ResponseEvents events(id);
//   for (entry : entries) if (events.feed(entry, &out)) break;   // true: complete
//   events.response();                                          // the Response object now
class ResponseEvents
{
public:
    struct Event
    {
        QByteArray type;
        QByteArray data; // compact JSON with "type" and "sequence_number"
    };
    // Where events go: a list, SSE bytes (`event: <type>` + `data: <json>`), or nowhere (state
    // only). Events numbered up to skipThrough are counted but not made.
    struct Sink
    {
        QList<Event> *events = nullptr;
        QByteArray *sse = nullptr;
        qint64 skipThrough = -1;
    };

    explicit ResponseEvents(const ResponseId &id);

    // Makes the events of one entry. True once the response is complete (its terminal entry
    // was fed); later entries are ignored.
    bool feed(const EntryView &entry, const Sink &sink);
    bool feed(const EntryView &entry, QList<Event> *out) { return feed(entry, Sink{out, nullptr, -1}); }
    bool started() const { return m_started; }
    bool complete() const { return m_complete; }
    int eventCount() const { return m_sequence; }
    QByteArray status() const { return m_status; }
    // The bytes of every message text so far (the done events repeat them).
    qsizetype answerBytes() const;
    // The turn's request as stored (model, input, instructions, background, store, ...).
    const QJsonObject &request() const { return m_request; }
    QJsonObject response() const;
    // The input items of the request, with their ids.
    QJsonArray inputItems() const;

private:
    bool wants(const Sink &sink) const { return (sink.events || sink.sse) && m_sequence > sink.skipThrough; }
    template<typename Body>
    void emitEvent(const Sink &sink, const char *type, Body body);
    void emitDelta(const Sink &sink, QByteArrayView delta);
    void openMessage(const Sink &sink);
    void closeMessage(const Sink &sink);
    void addToolCall(const Sink &sink, const EntryView &entry);
    QJsonObject position() const;
    QJsonObject messageItem(const char *status, bool withContent = true) const;
    QJsonObject textPart(qsizetype text) const;
    QJsonArray output() const;
    QString messageId() const;
    // Event JSON with every message text spliced in (see emitEvent), appended to out.
    void appendSpliced(QByteArray &out, QByteArrayView json) const;
    // Text number `text` (m_texts.size(): the open message) as a JSON string literal.
    const QByteArray &quoted(qsizetype text) const;

    ResponseId m_id;
    QByteArray m_hex; // the id's 48 digits, for item ids
    QJsonObject m_request;
    qint64 m_createdAt = 0;
    qint64 m_completedAt = 0;
    QJsonArray m_items;     // finished output items (messages without their content)
    QList<qsizetype> m_textOf; // per item: its text in m_texts, -1 for a function call
    QList<QByteArray> m_texts; // the finished messages' texts (UTF-8)
    bool m_messageOpen = false;
    QByteArray m_text;      // the open message's text (UTF-8): text number m_texts.size()
    mutable QList<QByteArray> m_quoted; // m_texts as JSON string literals, escaped once (null: not yet)
    mutable QByteArray m_openQuoted; // m_text as one, when m_openQuotedValid
    mutable bool m_openQuotedValid = false;
    bool m_marking = false; // building an event: texts are markers, spliced in after serializing
    QByteArray m_messageId; // its id, and where it is in the output (m_items.size())
    QByteArray m_deltaTail; // what its deltas have between the text and the sequence number
    QByteArray m_status;
    QJsonObject m_error;
    int m_sequence = 0;
    bool m_started = false;
    bool m_complete = false;
};
