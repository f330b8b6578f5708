// fuzz_responses_request: the body parser of POST /v1/responses (ResponsesRequest::parse) and
// the response ids it meets (previous_response_id, path segments).
//  - never crashes; a rejection names the field at fault or none (the body), with a message;
//  - an accepted body has a model, a non-empty prompt within the limit, message items only,
//    and no background without store; what it keeps (stored()) parses back to the same request;
//  - ResponseId::parse accepts only "resp_" + 48 lowercase hex and prints back what it read.

#include "FuzzSupport.h"

#include "http/responses/ResponseId.h"
#include "http/responses/ResponsesRequest.h"

#include <QJsonDocument>

using FuzzSupport::escaped;

namespace {
constexpr qint64 kMaxPrompt = 4096;

void checkRequest(const QByteArray &body)
{
    ResponsesRequest::Error error;
    const auto r = ResponsesRequest::parse(body, kMaxPrompt, &error);
    if (!r) {
        FUZZ_CHECK(!error.message.isEmpty(), "no message for the rejected body \"%s\"", escaped(body).constData());
        return;
    }
    FUZZ_CHECK(!r->model.trimmed().isEmpty(), "accepted without a model: \"%s\"", escaped(body).constData());
    FUZZ_CHECK(!r->prompt().trimmed().isEmpty() && r->prompt().toUtf8().size() <= kMaxPrompt, "prompt empty or too long: \"%s\"",
               escaped(body).constData());
    FUZZ_CHECK(!(r->background && !r->store), "background without store accepted: \"%s\"", escaped(body).constData());
    for (const QJsonValue &item : r->input)
        FUZZ_CHECK(item.toObject().value(QStringLiteral("type")).toString() == QLatin1String("message"), "a non-message item: \"%s\"",
                   escaped(body).constData());
    // What a turn keeps is a request again, with the same meaning.
    QJsonObject kept = r->stored();
    const auto again = ResponsesRequest::parse(QJsonDocument(kept).toJson(QJsonDocument::Compact), kMaxPrompt, &error);
    FUZZ_CHECK(again && again->prompt() == r->prompt() && again->background == r->background && again->store == r->store
                   && again->model == r->model && again->previousResponseId == r->previousResponseId,
               "stored() of \"%s\" does not parse back to the same request", escaped(body).constData());
}

void checkId(const QByteArray &text)
{
    const auto id = ResponseId::parse(text);
    if (!id)
        return;
    FUZZ_CHECK(id->toBytes() == text, "\"%s\" parsed but prints as \"%s\"", escaped(text).constData(), id->toBytes().constData());
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    checkRequest(bytes);
    checkId(bytes);
    return 0;
}
