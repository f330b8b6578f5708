#include "http/durable/DurableMessage.h"

#include "http/durable/DurableRequest.h"

#include <QJsonDocument>
#include <QJsonObject>

QByteArray DurableMessage::payload(const EntryView &entry, Kind kind)
{
    if (kind != Kind::Agent)
        return entry.field("d").toByteArray();
    QJsonObject o{{QStringLiteral("type"), QString::fromUtf8(entry.type())},
                  {QStringLiteral("text"), QString::fromUtf8(entry.field("text"))}};
    for (const char *extra : {"code", "message", "turn", "prompt"}) {
        const QByteArrayView value = entry.field(extra);
        if (!value.isEmpty())
            o.insert(QLatin1String(extra), QString::fromUtf8(value));
    }
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QByteArray DurableMessage::body(const QList<QByteArray> &payloads, Kind kind)
{
    if (kind != Kind::Bytes)
        return DurableRequest::jsonArray(payloads);
    QByteArray out;
    qsizetype size = 0;
    for (const QByteArray &p : payloads)
        size += p.size();
    out.reserve(size);
    for (const QByteArray &p : payloads)
        out.append(p);
    return out;
}
