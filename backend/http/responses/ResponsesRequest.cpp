#include "http/responses/ResponsesRequest.h"

#include <QJsonDocument>

namespace {
const QString kText = QStringLiteral("text");
const QString kType = QStringLiteral("type");
const QString kRole = QStringLiteral("role");
const QString kContent = QStringLiteral("content");

bool fail(ResponsesRequest::Error *error, const QString &message, const QByteArray &param)
{
    *error = {message, param};
    return false;
}

// One input item -> {type: message, role, content: [{type: input_text|output_text, text}]}.
bool normalizeItem(const QJsonValue &value, int index, QJsonObject *out, ResponsesRequest::Error *error)
{
    const QByteArray at = "input[" + QByteArray::number(index) + "]";
    if (!value.isObject())
        return fail(error, QStringLiteral("Invalid type for '%1': expected an object.").arg(QString::fromLatin1(at)), at);
    const QJsonObject item = value.toObject();
    const QJsonValue type = item.value(kType);
    if (!type.isUndefined() && type.toString() != QLatin1String("message"))
        return fail(error, QStringLiteral("Invalid value for '%1.type': only message items are supported.").arg(QString::fromLatin1(at)),
                    at + ".type");
    const QString role = item.value(kRole).toString();
    if (role != QLatin1String("user") && role != QLatin1String("assistant") && role != QLatin1String("system")
        && role != QLatin1String("developer"))
        return fail(error, QStringLiteral("Invalid value for '%1.role': expected one of user, assistant, system, developer.")
                               .arg(QString::fromLatin1(at)),
                    at + ".role");
    const QString partType = role == QLatin1String("assistant") ? QStringLiteral("output_text") : QStringLiteral("input_text");
    QJsonArray parts;
    const QJsonValue content = item.value(kContent);
    if (content.isString()) {
        parts.append(QJsonObject{{kType, partType}, {kText, content.toString()}});
    } else if (content.isArray()) {
        const QJsonArray given = content.toArray();
        for (qsizetype i = 0; i < given.size(); ++i) {
            const QJsonObject part = given.at(i).toObject();
            const QString t = part.value(kType).toString();
            if ((t != QLatin1String("input_text") && t != QLatin1String("output_text")) || !part.value(kText).isString())
                return fail(error, QStringLiteral("Invalid value for '%1.content[%2]': expected a text part {type: input_text, text}.")
                                       .arg(QString::fromLatin1(at))
                                       .arg(i),
                            at + ".content");
            parts.append(QJsonObject{{kType, t}, {kText, part.value(kText).toString()}});
        }
    } else {
        return fail(error, QStringLiteral("Invalid type for '%1.content': expected a string or an array of text parts.").arg(QString::fromLatin1(at)),
                    at + ".content");
    }
    *out = QJsonObject{{kType, QStringLiteral("message")}, {kRole, role}, {kContent, parts}};
    return true;
}

// An optional field: absent or null -> true and *present false.
bool optionalOf(const QJsonObject &body, const QString &name, bool (QJsonValue::*is)() const, QJsonValue *out,
                const QString &expected, ResponsesRequest::Error *error)
{
    const QJsonValue v = body.value(name);
    if (v.isUndefined() || v.isNull()) {
        *out = QJsonValue();
        return true;
    }
    if (!(v.*is)())
        return fail(error, QStringLiteral("Invalid type for '%1': expected %2.").arg(name, expected), name.toUtf8());
    *out = v;
    return true;
}
} // namespace

QString ResponsesRequest::prompt() const
{
    QStringList texts;
    for (const QJsonValue &item : input) {
        if (item.toObject().value(kRole).toString() != QLatin1String("user"))
            continue;
        for (const QJsonValue &part : item.toObject().value(kContent).toArray())
            texts << part.toObject().value(kText).toString();
    }
    return texts.join(QStringLiteral("\n\n"));
}

QJsonObject ResponsesRequest::stored() const
{
    QJsonObject o{{QStringLiteral("model"), model},
                  {QStringLiteral("input"), input},
                  {QStringLiteral("background"), background},
                  {QStringLiteral("store"), store},
                  {QStringLiteral("metadata"), metadata}};
    if (hasInstructions)
        o.insert(QStringLiteral("instructions"), instructions);
    if (!previousResponseId.isEmpty())
        o.insert(QStringLiteral("previous_response_id"), QString::fromUtf8(previousResponseId));
    return o;
}

std::optional<ResponsesRequest> ResponsesRequest::parse(const QByteArray &body, qint64 maxPromptBytes, Error *error)
{
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError || !doc.isObject()) {
        fail(error, QStringLiteral("We could not parse the JSON body of your request (%1). Send a JSON object.")
                        .arg(parseError.error != QJsonParseError::NoError ? parseError.errorString() : QStringLiteral("not an object")),
             {});
        return std::nullopt;
    }
    const QJsonObject o = doc.object();
    ResponsesRequest r;
    const QJsonValue model = o.value(QStringLiteral("model"));
    if (!model.isString() || model.toString().trimmed().isEmpty()) {
        fail(error, QStringLiteral("Missing required parameter: 'model'."), "model");
        return std::nullopt;
    }
    r.model = model.toString();

    const QJsonValue input = o.value(QStringLiteral("input"));
    if (input.isString()) {
        r.input.append(QJsonObject{{kType, QStringLiteral("message")},
                                   {kRole, QStringLiteral("user")},
                                   {kContent, QJsonArray{QJsonObject{{kType, QStringLiteral("input_text")}, {kText, input.toString()}}}}});
    } else if (input.isArray()) {
        const QJsonArray items = input.toArray();
        for (qsizetype i = 0; i < items.size(); ++i) {
            QJsonObject item;
            if (!normalizeItem(items.at(i), int(i), &item, error))
                return std::nullopt;
            r.input.append(item);
        }
    } else {
        fail(error, QStringLiteral("Missing required parameter: 'input' (a string or an array of message items)."), "input");
        return std::nullopt;
    }

    QJsonValue v;
    if (!optionalOf(o, QStringLiteral("instructions"), &QJsonValue::isString, &v, QStringLiteral("a string"), error))
        return std::nullopt;
    r.hasInstructions = v.isString();
    r.instructions = v.toString();
    for (const auto &[name, flag] : {std::pair{QStringLiteral("background"), &r.background}, std::pair{QStringLiteral("stream"), &r.stream},
                                     std::pair{QStringLiteral("store"), &r.store}}) {
        if (!optionalOf(o, name, &QJsonValue::isBool, &v, QStringLiteral("a boolean"), error))
            return std::nullopt;
        if (v.isBool())
            *flag = v.toBool();
    }
    if (!optionalOf(o, QStringLiteral("previous_response_id"), &QJsonValue::isString, &v, QStringLiteral("a string"), error))
        return std::nullopt;
    r.previousResponseId = v.toString().toUtf8();
    if (!optionalOf(o, QStringLiteral("metadata"), &QJsonValue::isObject, &v, QStringLiteral("an object"), error))
        return std::nullopt;
    r.metadata = v.toObject();
    if (r.metadata.size() > 16) {
        fail(error, QStringLiteral("Invalid 'metadata': at most 16 keys."), "metadata");
        return std::nullopt;
    }
    for (auto it = r.metadata.constBegin(); it != r.metadata.constEnd(); ++it) {
        if (!it.value().isString() || it.key().size() > 64 || it.value().toString().size() > 512) {
            fail(error, QStringLiteral("Invalid 'metadata': values must be strings (keys up to 64, values up to 512 characters)."), "metadata");
            return std::nullopt;
        }
    }
    if (r.background && !r.store) {
        fail(error, QStringLiteral("Background mode requires store=true: a background response is kept so that it can be retrieved."),
             "background");
        return std::nullopt;
    }
    static const QStringList known{QStringLiteral("model"), QStringLiteral("input"), QStringLiteral("instructions"),
                                   QStringLiteral("background"), QStringLiteral("stream"), QStringLiteral("store"),
                                   QStringLiteral("previous_response_id"), QStringLiteral("metadata")};
    for (auto it = o.constBegin(); it != o.constEnd(); ++it)
        if (!known.contains(it.key()))
            r.extra.insert(it.key(), it.value());
    const QString prompt = r.prompt();
    if (prompt.trimmed().isEmpty()) {
        fail(error, QStringLiteral("Invalid 'input': it needs a user message with some text."), "input");
        return std::nullopt;
    }
    if (prompt.toUtf8().size() > maxPromptBytes) {
        fail(error, QStringLiteral("Invalid 'input': the text is %1 bytes; the limit is %2 bytes.").arg(prompt.toUtf8().size()).arg(maxPromptBytes),
             "input");
        return std::nullopt;
    }
    return r;
}
