#pragma once

#include <QByteArray>
#include <optional>

// Conversation ids: "@dafx-travelplanner@" + 32 lowercase hex digits (128 random bits).
namespace ConversationId {
QByteArray generate();
// Accepts the id as sent in a URL path segment, decoded or "%40"-encoded. Returns the
// canonical form, or nullopt when it is not a conversation id.
std::optional<QByteArray> normalize(const QByteArray &text);
} // namespace ConversationId
