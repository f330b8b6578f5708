#include "streams/EntryId.h"

#include <charconv>

namespace {
bool parseU64(const char *begin, const char *end, quint64 *out)
{
    if (begin == end || end - begin > 20)
        return false;
    quint64 value = 0;
    for (const char *p = begin; p != end; ++p) {
        if (*p < '0' || *p > '9')
            return false;
        const quint64 digit = quint64(*p - '0');
        if (value > (~quint64(0) - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}
} // namespace

QByteArray EntryId::toBytes() const
{
    char text[42];
    char *end = std::to_chars(text, text + 20, ms).ptr;
    *end++ = '-';
    end = std::to_chars(end, text + sizeof text, seq).ptr;
    return QByteArray(text, end - text);
}

std::optional<EntryId> EntryId::parse(QByteArrayView text)
{
    const char *begin = text.data();
    const char *end = begin + text.size();
    const qsizetype dash = text.indexOf('-');
    EntryId id;
    if (dash < 0) {
        if (text == "0")
            return id;
        return std::nullopt;
    }
    if (!parseU64(begin, begin + dash, &id.ms) || !parseU64(begin + dash + 1, end, &id.seq))
        return std::nullopt;
    return id;
}

std::optional<EntryId> parseCursor(const QByteArray &text, QString *error)
{
    if (text.isEmpty())
        return EntryId{};
    if (auto id = EntryId::parse(text))
        return id;
    if (error) {
        QString shown = QString::fromUtf8(text.left(40));
        for (QChar &c : shown)
            if (c.unicode() < 0x20 || c.unicode() == 0x7f)
                c = QLatin1Char('?');
        *error = QStringLiteral("malformed cursor \"%1\": expected a stream entry id like 1734567890123-0 "
                                "(the id: of an event you received)")
                     .arg(shown);
    }
    return std::nullopt;
}
