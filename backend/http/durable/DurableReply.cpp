#include "http/durable/DurableReply.h"

#include "Metrics.h"
#include "http/GuardedTcpServer.h"

namespace DurableReply {
void send(QHttpServerResponder &responder, const RequestContext &context, int status, const HeaderPairs &headers, const QByteArray &body)
{
    Metrics::instance().httpResponse(status);
    const GuardedTcpServer::ResponseMode mode = GuardedTcpServer::responseMode(responder.socket());
    responder.writeStatusLine(Status(status));
    for (const auto &h : headers)
        responder.writeHeader(h.first, h.second);
    for (const auto &h : context.cors)
        responder.writeHeader(h.first, h.second);
    const bool noBody = status == 204 || status == 304;
    if (!noBody)
        responder.writeHeader("Content-Length", QByteArray::number(body.size()));
    if (mode.close)
        responder.writeHeader("Connection", "close");
    else if (mode.http10KeepAlive)
        responder.writeHeader("Connection", "keep-alive");
    responder.writeBody(mode.headersOnly || noBody ? QByteArray() : body);
}

void error(QHttpServerResponder &responder, const RequestContext &context, int status, const QString &message, const HeaderPairs &headers)
{
    send(responder, context, status, headers + HeaderPairs{{"Content-Type", "text/plain; charset=utf-8"}, {"Cache-Control", "no-store"}},
         message.toUtf8() + '\n');
}

void unavailable(QHttpServerResponder &responder, const RequestContext &context, const QString &message)
{
    error(responder, context, 503, message, {{"Retry-After", "2"}});
}

HeaderPairs securityHeaders()
{
    return {{"X-Content-Type-Options", "nosniff"}, {"Cross-Origin-Resource-Policy", "cross-origin"}};
}

QByteArray exposedHeaders()
{
    return "Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Stream-TTL, Stream-Expires-At, Producer-Epoch, "
           "Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, ETag, Content-Type, Location, Retry-After, "
           "Stream-SSE-Data-Encoding";
}
} // namespace DurableReply
