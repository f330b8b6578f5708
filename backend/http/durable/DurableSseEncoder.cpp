#include "http/durable/DurableSseEncoder.h"

#include "durable/DurableOffset.h"

#include <QDateTime>

DurableSseEncoder::DurableSseEncoder(DurableMessage::Kind kind, bool base64, const EntryId &start, const QByteArray &clientCursor,
                                     const EntryId &tail, bool closed)
    : m_kind(kind)
    , m_base64(base64)
    , m_offset(DurableOffset::format(start))
    , m_clientCursor(clientCursor)
    , m_last(start)
    , m_tail(tail)
    , m_closedAtTail(closed)
{
}

bool DurableSseEncoder::append(QByteArray &out, const EntryView &entry)
{
    if (DurableMessage::isData(entry, m_kind)) {
        QByteArray payload = DurableMessage::payload(entry, m_kind);
        if (m_kind != DurableMessage::Kind::Bytes)
            payload = '[' + payload + ']';
        else if (m_base64)
            payload = payload.toBase64();
        out.append("event: data\n");
        // One data: line per line of the text (CR, LF and CRLF all end an SSE line); the space
        // after the colon only where the line starts with one (a reader removes one space).
        qsizetype start = 0;
        for (qsizetype i = 0; i <= payload.size(); ++i) {
            if (i < payload.size() && payload[i] != '\n' && payload[i] != '\r')
                continue;
            const QByteArrayView line = QByteArrayView(payload).sliced(start, i - start);
            out.append(line.startsWith(' ') ? "data: " : "data:").append(line).append('\n');
            if (i + 1 < payload.size() && payload[i] == '\r' && payload[i + 1] == '\n')
                ++i;
            start = i + 1;
        }
        out.append('\n');
        m_offset = DurableOffset::format(entry.id);
        m_last = entry.id;
    }
    // Closed: by this entry, or (already closed when the read began) after its last message.
    const bool closed = DurableMessage::closes(entry, m_kind) || (m_closedAtTail && !(entry.id < m_tail));
    control(out, closed);
    return closed;
}

void DurableSseEncoder::appendCaughtUp(QByteArray &out)
{
    if (!m_upToDateSent)
        control(out, false);
}

void DurableSseEncoder::appendUnavailable(QByteArray &, const EntryId &)
{
    // Nothing to add: the response ends, and the client reconnects from its last control.
}

void DurableSseEncoder::control(QByteArray &out, bool closed)
{
    out.append("event: control\ndata:{\"streamNextOffset\":\"").append(m_offset).append('"');
    if (closed) {
        out.append(",\"streamClosed\":true,\"upToDate\":true");
    } else {
        out.append(",\"streamCursor\":\"").append(DurableOffset::cursor(m_clientCursor, QDateTime::currentMSecsSinceEpoch())).append('"');
        if (!(m_last < m_tail)) {
            out.append(",\"upToDate\":true");
            m_upToDateSent = true;
        }
    }
    out.append("}\n\n");
}
