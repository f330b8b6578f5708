#pragma once

#include "http/core/RequestContext.h"

#include <QHttpServerResponder>

// Complete answers of the Durable Streams family: exactly the headers given (the protocol's
// Cache-Control and Content-Type differ per answer), the context's CORS and security headers,
// Content-Length and the guard's Connection handling; no body for HEAD, 204 and 304. Errors
// are one line of text (the protocol's clients read statuses and headers, not bodies).
namespace DurableReply {
using Status = QHttpServerResponder::StatusCode;
void send(QHttpServerResponder &responder, const RequestContext &context, int status, const HeaderPairs &headers,
          const QByteArray &body = {});
void error(QHttpServerResponder &responder, const RequestContext &context, int status, const QString &message,
           const HeaderPairs &headers = {});
// 503 with Retry-After: Redis is not serving.
void unavailable(QHttpServerResponder &responder, const RequestContext &context, const QString &message);
// The headers every answer of the family carries (added to context.cors by the routes).
HeaderPairs securityHeaders();
// The protocol's response headers, for Access-Control-Expose-Headers.
QByteArray exposedHeaders();
} // namespace DurableReply
