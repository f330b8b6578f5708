#pragma once

#include "http/core/RequestContext.h"

#include <QHttpServerResponder>
#include <QJsonObject>

// Complete (non-streaming) answers in the request's error format: the one place a family's
// handlers write errors and JSON from.
namespace Reply {
using Status = QHttpServerResponder::StatusCode;
// An error. code: a short machine-readable name; param: the request field at fault (OpenAI
// format only; empty = null).
void error(QHttpServerResponder &responder, const RequestContext &context, Status status, const QByteArray &code,
           const QString &message, const HeaderPairs &extraHeaders = {}, const QByteArray &param = {});
// The body of such an error in OpenAI's shape (type from the status, as OpenAI names them).
QByteArray openAiErrorBody(int status, const QByteArray &code, const QString &message, const QByteArray &param);
void json(QHttpServerResponder &responder, const RequestContext &context, Status status, const QJsonObject &body,
          const HeaderPairs &extraHeaders = {});
// Compact JSON plus a newline, the form every JSON answer takes.
QByteArray jsonBytes(const QJsonObject &body);
// 503 with Retry-After: Redis (or the write path) is not serving.
void unavailable(QHttpServerResponder &responder, const RequestContext &context, const QString &message);
} // namespace Reply
