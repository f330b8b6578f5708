#include "http/Sse.h"

namespace Sse {

QByteArray event(const QByteArray &id, const QByteArray &event, const QByteArray &data)
{
    QByteArray out;
    out.reserve(data.size() + id.size() + event.size() + 32);
    appendEvent(out, id, event, data);
    return out;
}

void appendEvent(QByteArray &out, QByteArrayView id, QByteArrayView event, QByteArrayView data)
{
    if (!id.isEmpty()) {
        out += "id: ";
        out.append(id);
        out += '\n';
    }
    if (!event.isEmpty()) {
        out += "event: ";
        out.append(event);
        out += '\n';
    }
    qsizetype start = 0;
    const qsizetype n = data.size();
    for (qsizetype i = 0; i <= n; ++i) {
        if (i == n || data[i] == '\n' || data[i] == '\r') {
            out += "data: ";
            out.append(data.data() + start, i - start);
            out += '\n';
            if (i < n && data[i] == '\r' && i + 1 < n && data[i + 1] == '\n')
                ++i;
            start = i + 1;
        }
    }
    out += '\n';
}

QByteArray retry(int ms)
{
    return "retry: " + QByteArray::number(ms) + "\n\n";
}

QByteArray comment(const QByteArray &text)
{
    QByteArray clean = text;
    clean.replace('\r', ' ').replace('\n', ' ');
    return ": " + clean + "\n\n";
}

} // namespace Sse
