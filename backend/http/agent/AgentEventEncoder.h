#pragma once

#include "http/ContentNegotiation.h"
#include "http/stream/EventEncoder.h"

// The /api/agent/* stream (DESIGN.md "Wire protocol"): SSE events with the entry id as `id:`,
// message/done/error/turn events; or the raw text for text/plain.
class AgentEventEncoder : public EventEncoder
{
public:
    AgentEventEncoder(ResponseFormat format, int retryMs);

    QByteArray contentType() const override;
    QByteArray prologue() const override;
    QByteArray keepAlive() const override;
    bool append(QByteArray &out, const EntryView &entry) override;
    void appendUnavailable(QByteArray &out, const EntryId &last) override;

    // Frames one entry for the given format (pure; exposed for tests).
    static QByteArray frame(const StreamEntry &entry, ResponseFormat format);
    static void appendFrame(QByteArray &out, const EntryView &entry, ResponseFormat format);

private:
    ResponseFormat m_format;
    int m_retryMs;
};
