#pragma once

#include "SseEvent.h"

#include <QByteArray>
#include <QList>

// Incremental text/event-stream parser (WHATWG "event stream interpretation"), pure and
// allocation-light: feed it the bytes of each read as they come; it returns the events that
// completed. Events may be split anywhere across reads, even between the CR and LF of a CRLF.
//
//   SseParser p;
//   for (const SseEvent &e : p.feed(reply->readAll())) ...
//   p.retryMs();        // last valid `retry:` hint, -1 if none
//   p.lastEventId();    // the spec's "last event ID buffer" (survives events without id:)
//
// Differences from a browser: an event with an `id:` but no `data:` is still not dispatched
// (as the spec says), and `data` is kept as bytes (the caller decodes UTF-8 once per event).
class SseParser
{
public:
    QList<SseEvent> feed(const QByteArray &bytes);
    // The stream ended: per the spec an unterminated event is discarded. Resets line state.
    void reset();

    int retryMs() const { return m_retryMs; }
    int comments() const { return m_comments; }
    QByteArray lastEventId() const { return m_lastEventId; }
    qint64 bytesParsed() const { return m_bytes; }

private:
    void processLine(const QByteArray &line, QList<SseEvent> *out);
    void dispatch(QList<SseEvent> *out);

    QByteArray m_line;           // a line not yet terminated
    bool m_skipLf = false;       // the previous chunk ended on CR: a leading LF belongs to it
    bool m_bomChecked = false;
    QByteArray m_eventType;
    QByteArray m_data;
    QByteArray m_id;
    bool m_hasData = false;
    bool m_hasId = false;
    QByteArray m_lastEventId;
    int m_retryMs = -1;
    int m_comments = 0;
    qint64 m_bytes = 0;
};
