#include "http/responses/ResponseId.h"

#include "runs/ConversationId.h"

namespace {
constexpr char kConversationPrefix[] = "@dafx-travelplanner@";
constexpr qsizetype kHex = 32;

QByteArray hex(quint64 value, int digits)
{
    return QByteArray::number(value, 16).rightJustified(digits, '0');
}
} // namespace

QByteArray ResponseId::withPrefix(const QByteArray &prefix) const
{
    return prefix + conversationId.mid(qsizetype(sizeof(kConversationPrefix) - 1)) + hex(turnEntry.ms, 12) + hex(turnEntry.seq, 4);
}

QByteArray ResponseId::toBytes() const
{
    return withPrefix("resp_");
}

std::optional<ResponseId> ResponseId::of(const QByteArray &conversationId, const EntryId &turnEntry)
{
    if (turnEntry.seq > 0xffff || turnEntry.ms > 0xffffffffffffULL || !ConversationId::normalize(conversationId))
        return std::nullopt;
    return ResponseId{conversationId, turnEntry};
}

std::optional<ResponseId> ResponseId::parse(const QByteArray &text)
{
    if (!text.startsWith("resp_") || text.size() != 5 + kHex + 16)
        return std::nullopt;
    const QByteArray digits = text.mid(5);
    for (const char c : digits)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return std::nullopt;
    auto conversation = ConversationId::normalize(kConversationPrefix + digits.left(kHex));
    if (!conversation)
        return std::nullopt;
    bool okMs = false, okSeq = false;
    const EntryId turn{digits.mid(kHex, 12).toULongLong(&okMs, 16), digits.mid(kHex + 12, 4).toULongLong(&okSeq, 16)};
    if (!okMs || !okSeq || turn.isNull())
        return std::nullopt;
    return ResponseId{*conversation, turn};
}
