#include "http/durable/DurableRequest.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

namespace {
constexpr qint64 kMaxTtlSeconds = 1000000000000; // far beyond any use, within PEXPIRE's range
constexpr qint64 kMaxSafeInteger = 9007199254740991; // 2^53 - 1

bool allDigits(const QByteArray &value)
{
    if (value.isEmpty())
        return false;
    for (char c : value)
        if (c < '0' || c > '9')
            return false;
    return true;
}

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

QByteArray trimmed(QByteArrayView text)
{
    qsizetype b = 0, e = text.size();
    while (b < e && isSpace(text[b]))
        ++b;
    while (e > b && isSpace(text[e - 1]))
        --e;
    return text.sliced(b, e - b).toByteArray();
}

// One JSON value. Qt parses top-level arrays and objects only: the value is checked as the
// element of one, which must then have exactly one element ("1,2" is two values, not JSON).
bool validJson(const QByteArray &value)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson("[" + value + "]", &error);
    return error.error == QJsonParseError::NoError && doc.array().size() == 1;
}
} // namespace

namespace DurableRequest {
bool isTrue(const QByteArray &value)
{
    return value.compare("true", Qt::CaseInsensitive) == 0;
}

std::optional<qint64> ttlSeconds(const QByteArray &value, QString *error)
{
    if (!allDigits(value) || (value.size() > 1 && value.startsWith('0')) || value.size() > 13 || value.toLongLong() > kMaxTtlSeconds) {
        *error = QStringLiteral("Stream-TTL must be a whole number of seconds (e.g. 3600): no sign, leading zeros, decimals or exponent");
        return std::nullopt;
    }
    return value.toLongLong();
}

std::optional<qint64> expiresAtMs(const QByteArray &value, QString *error)
{
    static const QRegularExpression rfc3339(QStringLiteral(
        R"(^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$)"));
    const QString text = QString::fromLatin1(value);
    QDateTime when;
    if (rfc3339.match(text).hasMatch()) {
        QString iso = text.toUpper();
        // Qt takes at most milliseconds.
        static const QRegularExpression fraction(QStringLiteral(R"(\.(\d{1,3})\d*)"));
        iso.replace(fraction, QStringLiteral(".\\1"));
        when = QDateTime::fromString(iso, Qt::ISODateWithMs);
    }
    if (!when.isValid()) {
        *error = QStringLiteral("Stream-Expires-At must be an RFC 3339 timestamp with a time zone, e.g. 2030-01-01T00:00:00Z");
        return std::nullopt;
    }
    return when.toMSecsSinceEpoch();
}

QByteArray normalizedType(const QByteArray &contentType)
{
    const qsizetype semicolon = contentType.indexOf(';');
    return trimmed(semicolon < 0 ? QByteArrayView(contentType) : QByteArrayView(contentType).first(semicolon)).toLower();
}

bool isJson(const QByteArray &normalizedType)
{
    return normalizedType == "application/json";
}

bool isText(const QByteArray &normalizedType)
{
    return normalizedType.startsWith("text/") || isJson(normalizedType);
}

bool isCanonicalNumber(const QByteArray &value)
{
    return allDigits(value) && !(value.size() > 1 && value.startsWith('0')) && value.size() <= 16;
}

bool isProducerNumber(const QByteArray &value)
{
    return allDigits(value) && value.size() <= 16 && value.toLongLong() <= kMaxSafeInteger;
}

std::optional<QList<QByteArray>> jsonMessages(const QByteArray &body, QString *error)
{
    const QByteArray text = trimmed(body);
    if (!validJson(text)) {
        *error = QStringLiteral("the body is not valid JSON");
        return std::nullopt;
    }
    if (!text.startsWith('['))
        return QList<QByteArray>{text};
    // Split the array's elements at its top-level commas (strings and nesting skipped).
    QList<QByteArray> messages;
    int depth = 0;
    bool inString = false;
    qsizetype start = 1;
    for (qsizetype i = 1; i < text.size() - 1; ++i) {
        const char c = text[i];
        if (inString) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                inString = false;
        } else if (c == '"') {
            inString = true;
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if (c == ']' || c == '}') {
            --depth;
        } else if (c == ',' && depth == 0) {
            messages.append(trimmed(QByteArrayView(text).sliced(start, i - start)));
            start = i + 1;
        }
    }
    const QByteArray last = trimmed(QByteArrayView(text).sliced(start, text.size() - 1 - start));
    if (!last.isEmpty() || !messages.isEmpty())
        messages.append(last);
    return messages;
}

QByteArray jsonArray(const QList<QByteArray> &messages)
{
    qsizetype size = 2;
    for (const QByteArray &m : messages)
        size += m.size() + 1;
    QByteArray out;
    out.reserve(size);
    out.append('[');
    for (qsizetype i = 0; i < messages.size(); ++i) {
        if (i)
            out.append(',');
        out.append(messages.at(i));
    }
    out.append(']');
    return out;
}

bool isValidName(const QByteArray &name)
{
    if (name.isEmpty() || name.size() > 512)
        return false;
    for (char c : name)
        if (uchar(c) < 0x20 || c == 0x7f)
            return false;
    return true;
}
} // namespace DurableRequest
