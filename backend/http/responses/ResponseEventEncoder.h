#pragma once

#include "http/responses/ResponseCheckpoints.h"
#include "http/responses/ResponseEvents.h"
#include "http/stream/EventEncoder.h"

#include <memory>

// The /v1/responses stream: `event: <type>` + `data: <json>` per event, no id: lines (the SDK
// resumes by sequence number). Events numbered up to startingAfter are counted but not made,
// so a resume continues exactly where the client stopped, on any instance. With checkpoints,
// it saves its state there every so many events (see ResponseCheckpoints); `from` is a saved
// state to continue from (the stream then starts after its entry).
class ResponseEventEncoder : public EventEncoder
{
public:
    explicit ResponseEventEncoder(const ResponseId &id, qint64 startingAfter = -1, std::shared_ptr<ResponseCheckpoints> checkpoints = {},
                                  const ResponseEvents *from = nullptr);

    QByteArray contentType() const override { return "text/event-stream"; }
    QByteArray keepAlive() const override { return ": keep-alive\n\n"; }
    bool append(QByteArray &out, const EntryView &entry) override;
    // A delta's event is its text and about 200 bytes; the terminal entry's four done events
    // repeat the answer (so one batch buffer holds them without growing).
    qsizetype sizeHint(const QList<EntryView> &entries) const override;
    void appendUnavailable(QByteArray &out, const EntryId &last) override;

private:
    ResponseId m_id;
    ResponseEvents m_events;
    qint64 m_startingAfter;
    std::shared_ptr<ResponseCheckpoints> m_checkpoints;
    int m_nextCheckpoint = ResponseCheckpoints::kEvery;
};
