#include "durable/DurableOffset.h"

#include <QRandomGenerator>

namespace {
constexpr int kDigits = 20; // 2^64 has 20 decimal digits
constexpr qint64 kCursorEpochMs = 1728432000000; // 2024-10-09T00:00:00Z
constexpr qint64 kCursorIntervalMs = 20000;

void appendPadded(QByteArray &out, quint64 value)
{
    char digits[kDigits];
    for (int i = kDigits - 1; i >= 0; --i) {
        digits[i] = char('0' + value % 10);
        value /= 10;
    }
    out.append(digits, kDigits);
}

std::optional<quint64> parseDigits(QByteArrayView text)
{
    quint64 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        const quint64 digit = quint64(c - '0');
        if (value > (~quint64(0) - digit) / 10)
            return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}
} // namespace

namespace DurableOffset {
QByteArray format(const EntryId &id)
{
    QByteArray out;
    out.reserve(2 * kDigits + 1);
    appendPadded(out, id.ms);
    out.append('_');
    appendPadded(out, id.seq);
    return out;
}

std::optional<EntryId> parse(QByteArrayView text)
{
    if (text == "-1")
        return EntryId{};
    // Ours are 20 + 20 digits; shorter zero-padded forms (the reference server's 16 + 16, which
    // clients and its conformance suite write for the start) name the same position.
    const qsizetype sep = text.indexOf('_');
    if (sep < 1 || sep > kDigits || text.size() - sep - 1 < 1 || text.size() - sep - 1 > kDigits)
        return std::nullopt;
    const auto ms = parseDigits(text.first(sep));
    const auto seq = parseDigits(text.sliced(sep + 1));
    if (!ms || !seq)
        return std::nullopt;
    return EntryId{*ms, *seq};
}

QByteArray cursor(QByteArrayView clientCursor, qint64 nowMs)
{
    const qint64 current = (nowMs - kCursorEpochMs) / kCursorIntervalMs;
    bool ok = false;
    const qint64 client = clientCursor.isEmpty() ? -1 : QByteArray(clientCursor.data(), clientCursor.size()).toLongLong(&ok);
    if (!ok || client < current)
        return QByteArray::number(current);
    // 1 s to an hour of jitter, in whole intervals (at least one).
    const qint64 jitterSeconds = 1 + QRandomGenerator::global()->bounded(3600);
    return QByteArray::number(client + qMax<qint64>(1, (jitterSeconds * 1000 + kCursorIntervalMs - 1) / kCursorIntervalMs));
}
} // namespace DurableOffset
