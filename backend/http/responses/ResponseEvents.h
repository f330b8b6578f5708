#pragma once

#include "http/responses/ResponseId.h"
#include "streams/StreamEntry.h"

#include <QJsonObject>
#include <QList>

// One response's events, derived from the conversation's stream entries alone (pure): the
// same entries give the same events, byte for byte, with the same sequence numbers, on any
// instance. Feed the entries in order from the response's `turn` entry on (earlier ones are
// skipped); the events follow the order the openai SDK's stream helpers require:
//
//   turn    -> response.created (queued), response.queued, response.in_progress
//   message -> [response.output_item.added, response.content_part.added,] response.output_text.delta
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

    explicit ResponseEvents(const ResponseId &id);

    // Appends the events of one entry (out may be null: state only). True once the response
    // is complete (its terminal entry was fed); later entries are ignored.
    bool feed(const EntryView &entry, QList<Event> *out);
    bool started() const { return m_started; }
    bool complete() const { return m_complete; }
    int eventCount() const { return m_sequence; }
    QByteArray status() const { return m_status; }
    // The turn's request as stored (model, input, instructions, background, store, ...).
    const QJsonObject &request() const { return m_request; }
    QJsonObject response() const;
    // The input items of the request, with their ids.
    QJsonArray inputItems() const;

private:
    void emitEvent(QList<Event> *out, const char *type, QJsonObject body);
    QJsonObject messageItem(const char *status) const;
    QJsonObject textPart() const;

    ResponseId m_id;
    QString m_responseId;
    QString m_itemId;
    QJsonObject m_request;
    qint64 m_createdAt = 0;
    qint64 m_completedAt = 0;
    QString m_text;
    QByteArray m_status;
    QJsonObject m_error;
    int m_sequence = 0;
    bool m_started = false;
    bool m_itemOpen = false;
    bool m_itemDone = false;
    bool m_complete = false;
};
