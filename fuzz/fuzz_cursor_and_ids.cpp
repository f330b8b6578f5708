// fuzz_cursor_and_ids: the parsers that see client-controlled path segments and headers.
//  - parseCursor / EntryId::parse: a parsed id prints (toBytes) as text that parses to the same
//    id; only "<digits>-<digits>" or "0" parse; a rejected cursor's message has no control
//    characters (it is echoed in an HTTP body and logs).
//  - ConversationId::normalize: a result is canonical (prefix + 32 lowercase hex) and a fixed
//    point; text without '%' is either accepted as is or rejected.
//  - negotiateFormat / wantsJsonErrors: never crash; JSON only where the route allows it;
//    media types are case-insensitive.

#include "FuzzSupport.h"

#include "http/ContentNegotiation.h"
#include "runs/ConversationId.h"
#include "streams/EntryId.h"

using FuzzSupport::escaped;

namespace {

void checkCursor(const QByteArray &text)
{
    QString error;
    const std::optional<EntryId> cursor = parseCursor(text, &error);
    const std::optional<EntryId> id = EntryId::parse(text);
    if (text.isEmpty()) {
        FUZZ_CHECK(cursor && cursor->isNull(), "an empty cursor is the start of the stream");
    } else {
        FUZZ_CHECK(bool(cursor) == bool(id) && (!id || *cursor == *id), "parseCursor and EntryId::parse disagree on \"%s\"",
                   escaped(text).constData());
    }
    if (!cursor) {
        FUZZ_CHECK(!error.isEmpty(), "no message for a rejected cursor \"%s\"", escaped(text).constData());
        for (const QChar c : error)
            FUZZ_CHECK(c.unicode() >= 0x20 && c.unicode() != 0x7f, "control character in the cursor error for \"%s\"",
                       escaped(text).constData());
    }
    if (id) {
        const QByteArray printed = id->toBytes();
        const std::optional<EntryId> again = EntryId::parse(printed);
        FUZZ_CHECK(again && *again == *id, "\"%s\" parsed, but its toBytes() \"%s\" does not parse back to it",
                   escaped(text).constData(), printed.constData());
        // Only digits and one dash (or "0") are accepted.
        bool shape = text == "0" || text.count('-') == 1;
        for (const char c : text)
            shape = shape && ((c >= '0' && c <= '9') || c == '-');
        FUZZ_CHECK(shape, "EntryId::parse accepted \"%s\"", escaped(text).constData());
        // Same value as text without leading zeros: the canonical spelling compares equal.
        FUZZ_CHECK(printed == text || text.contains("-0") || text.startsWith('0'),
                   "\"%s\" parsed to %s: different value", escaped(text).constData(), printed.constData());
        FUZZ_CHECK(!(*id < *id) && *id <= *id && (id->isNull() || id->previous() < *id));
    }
}

void checkConversationId(const QByteArray &text)
{
    const std::optional<QByteArray> id = ConversationId::normalize(text);
    if (!id) {
        return;
    }
    FUZZ_CHECK(id->size() == 20 + 32 && id->startsWith("@dafx-travelplanner@"), "normalize(\"%s\") = \"%s\"",
               escaped(text).constData(), escaped(*id).constData());
    for (qsizetype i = 20; i < id->size(); ++i) {
        const char c = id->at(i);
        FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'), "non-hex in normalize(\"%s\")",
                   escaped(text).constData());
    }
    FUZZ_CHECK(ConversationId::normalize(*id) == id, "normalize is not idempotent on \"%s\"", escaped(*id).constData());
    if (!text.contains('%'))
        FUZZ_CHECK(*id == text, "normalize changed \"%s\" without any %% escape", escaped(text).constData());
}

void checkNegotiation(const QByteArray &accept)
{
    const ResponseFormat withJson = negotiateFormat(accept, true);
    const ResponseFormat withoutJson = negotiateFormat(accept, false);
    FUZZ_CHECK(withoutJson != ResponseFormat::Json, "JSON chosen where the route has none, Accept \"%s\"",
               escaped(accept).constData());
    // Offering JSON as well can only change the answer to JSON (or from None to something).
    FUZZ_CHECK(withJson == withoutJson || withJson == ResponseFormat::Json || withoutJson == ResponseFormat::None,
               "allowJson changed %d to %d for Accept \"%s\"", int(withoutJson), int(withJson), escaped(accept).constData());
    const QByteArray lower = accept.toLower();
    FUZZ_CHECK(negotiateFormat(lower, true) == withJson && negotiateFormat(lower, false) == withoutJson,
               "Accept is case-sensitive: \"%s\"", escaped(accept).constData());
    (void)wantsJsonErrors(accept);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray text(reinterpret_cast<const char *>(data), qsizetype(size));
    checkCursor(text);
    checkConversationId(text);
    checkNegotiation(text);
    return 0;
}
