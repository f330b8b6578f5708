#include "SseParser.h"

QList<SseEvent> SseParser::feed(const QByteArray &bytes)
{
    QList<SseEvent> out;
    m_bytes += bytes.size();
    qsizetype pos = 0;
    if (m_skipLf && !bytes.isEmpty()) {
        m_skipLf = false;
        if (bytes.at(0) == '\n')
            pos = 1;
    }
    const qsizetype n = bytes.size();
    while (pos < n) {
        // Find the next CR or LF from pos.
        qsizetype end = pos;
        while (end < n && bytes.at(end) != '\n' && bytes.at(end) != '\r')
            ++end;
        if (end == n) {
            m_line.append(bytes.constData() + pos, end - pos);
            break;
        }
        m_line.append(bytes.constData() + pos, end - pos);
        if (!m_bomChecked) {
            m_bomChecked = true;
            if (m_line.startsWith("\xEF\xBB\xBF"))
                m_line.remove(0, 3);
        }
        processLine(m_line, &out);
        m_line.clear();
        if (bytes.at(end) == '\r') {
            if (end + 1 < n) {
                if (bytes.at(end + 1) == '\n')
                    ++end;
            } else {
                m_skipLf = true; // CRLF may be split across reads
            }
        }
        pos = end + 1;
    }
    return out;
}

void SseParser::reset()
{
    m_line.clear();
    m_skipLf = false;
    m_bomChecked = false;
    m_eventType.clear();
    m_data.clear();
    m_id.clear();
    m_hasData = false;
    m_hasId = false;
}

void SseParser::processLine(const QByteArray &line, QList<SseEvent> *out)
{
    if (line.isEmpty()) {
        dispatch(out);
        return;
    }
    if (line.at(0) == ':') {
        ++m_comments;
        return;
    }
    const qsizetype colon = line.indexOf(':');
    const QByteArray field = colon < 0 ? line : line.left(colon);
    QByteArray value;
    if (colon >= 0) {
        const qsizetype start = colon + 1 < line.size() && line.at(colon + 1) == ' ' ? colon + 2 : colon + 1;
        value = line.mid(start);
    }
    if (field == "data") {
        if (m_hasData)
            m_data += '\n';
        m_data += value;
        m_hasData = true;
    } else if (field == "event") {
        m_eventType = value;
    } else if (field == "id") {
        if (!value.contains('\0')) {
            m_id = value;
            m_hasId = true;
            m_lastEventId = value;
        }
    } else if (field == "retry") {
        bool ok = !value.isEmpty();
        for (const char c : value)
            ok = ok && c >= '0' && c <= '9';
        if (ok) {
            const int v = value.toInt(&ok);
            if (ok)
                m_retryMs = v;
        }
    }
    // Other fields are ignored, as the spec says.
}

void SseParser::dispatch(QList<SseEvent> *out)
{
    if (m_hasData) {
        SseEvent e;
        e.id = m_hasId ? m_id : QByteArray();
        e.event = m_eventType.isEmpty() ? QByteArray("message") : m_eventType;
        e.data = m_data;
        out->append(e);
    }
    m_eventType.clear();
    m_data.clear();
    m_id.clear();
    m_hasData = false;
    m_hasId = false;
}
