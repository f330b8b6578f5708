#pragma once

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <optional>

// The body of POST /v1/responses, checked (pure; fuzzed by fuzz/fuzz_responses_request.cpp).
// Fields OpenAI has and we do not use (tools, temperature, ...) are accepted and ignored.
struct ResponsesRequest
{
    QString model;
    QJsonArray input;         // message items, normalized: {type, role, content: [{type, text}]}
    QString instructions;     // "" = none
    bool hasInstructions = false;
    bool background = false;
    bool stream = false;
    bool store = true;
    QByteArray previousResponseId;
    QJsonObject metadata;
    QJsonObject extra;        // fields OpenAI's API does not have (the synthetic provider's chunks, bytes, rate)

    // The text the agent answers: the input's user messages, in order.
    QString prompt() const;
    // What the turn keeps in its stream entry, for the Response object and input_items.
    QJsonObject stored() const;

    struct Error
    {
        QString message;
        QByteArray param; // the field at fault ("" = the body as a whole)
    };
    // maxPromptBytes: the limit on the prompt's UTF-8 size.
    static std::optional<ResponsesRequest> parse(const QByteArray &body, qint64 maxPromptBytes, Error *error);
};
