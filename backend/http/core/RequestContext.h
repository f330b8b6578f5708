#pragma once

#include "http/HttpUtil.h"

#include <QByteArray>
#include <QList>

// How a request's errors are written: the sample's one line of text, its JSON
// {"error":{"code","message"}}, or OpenAI's {"error":{"message","type","param","code"}}.
enum class ErrorFormat { Text, Json, OpenAI };

// What the dispatcher learned about a request before a family's handler runs. Handlers copy it
// into their callbacks (it is a value; nothing in it points into the request).
struct RequestContext
{
    QByteArray tenant;       // the API key's tenant ("" when keys are off)
    QByteArray tenantFilter; // for RunStore and RunManager: the tenant, or "*" when keys are off
    QByteArray client;       // per-client limits: the key's tenant, or the peer address
    HeaderPairs cors;        // CORS headers for the request's Origin (added to every answer)
    ErrorFormat errors = ErrorFormat::Text;
    QList<QByteArray> args;  // the route's {placeholders}, as sent (percent-encoded)
};
