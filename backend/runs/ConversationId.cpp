#include "runs/ConversationId.h"

#include <QRandomGenerator>
#include <QUrl>

namespace {
const QByteArray kPrefix = QByteArrayLiteral("@dafx-travelplanner@");
}

namespace ConversationId {

QByteArray generate()
{
    quint32 words[4];
    QRandomGenerator::system()->fillRange(words);
    return kPrefix + QByteArray(reinterpret_cast<const char *>(words), sizeof(words)).toHex();
}

std::optional<QByteArray> normalize(const QByteArray &text)
{
    const QByteArray decoded = text.contains('%') ? QUrl::fromPercentEncoding(text).toUtf8() : text;
    if (decoded.size() != kPrefix.size() + 32 || !decoded.startsWith(kPrefix))
        return std::nullopt;
    for (qsizetype i = kPrefix.size(); i < decoded.size(); ++i) {
        const char c = decoded[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return std::nullopt;
    }
    return decoded;
}

} // namespace ConversationId
