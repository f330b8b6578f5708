#include "EventId.h"

namespace {
bool digits(const QByteArray &s)
{
    if (s.isEmpty() || s.size() > 20)
        return false;
    for (const char c : s)
        if (c < '0' || c > '9')
            return false;
    return true;
}
} // namespace

EventId EventId::parse(const QByteArray &text)
{
    EventId id;
    const qsizetype dash = text.indexOf('-');
    if (dash <= 0)
        return id;
    const QByteArray ms = text.left(dash);
    const QByteArray seq = text.mid(dash + 1);
    if (!digits(ms) || !digits(seq))
        return id;
    bool okMs = false;
    bool okSeq = false;
    id.ms = ms.toULongLong(&okMs);
    id.seq = seq.toULongLong(&okSeq);
    id.valid = okMs && okSeq;
    return id;
}

QByteArray EventId::toText() const
{
    return valid ? QByteArray::number(ms) + '-' + QByteArray::number(seq) : QByteArray();
}
