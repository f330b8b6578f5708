#pragma once

#include "agents/Agent.h"
#include "redis/RedisError.h"
#include "streams/StreamEntry.h"

#include <QHash>
#include <QObject>
#include <QTimer>

class StreamWriter;

// Runs agents fire-and-forget: a run belongs to the manager, never to an HTTP request, so a
// client going away never stops it. Every run's stream starts with a `turn` entry and ends with
// exactly one `done` or `error` entry; the run record (agent-run:{id}) follows its status.
// While a run is going, a heartbeat keeps both keys alive, so a running run never expires; the
// TTL counts from its last activity.
//
//   QByteArray id = runs->start("Plan a trip to Tokyo");
//   runs->cancel(id);
class RunManager : public QObject
{
    Q_OBJECT
public:
    RunManager(StreamWriter *writer, AgentFactory factory, QObject *parent = nullptr);
    ~RunManager() override;

    QByteArray start(const QString &prompt, const QJsonObject &options = {});
    // True when the run was going here and is now cancelled.
    bool cancel(const QByteArray &conversationId);
    bool isRunning(const QByteArray &conversationId) const { return m_runs.contains(conversationId); }
    int activeRuns() const { return int(m_runs.size()); }
    QByteArray instanceId() const { return m_instanceId; }
    void setHeartbeatMs(int ms) { m_heartbeat.setInterval(ms); }

Q_SIGNALS:
    void runEnded(const QByteArray &conversationId, const QByteArray &status);

private:
    struct Run
    {
        Agent *agent = nullptr;
        int turn = 1;
    };
    void startAgent(const QByteArray &conversationId, const AgentRequest &request);
    void end(const QByteArray &conversationId, const QByteArray &status, const QByteArray &code, const QString &message);
    static QByteArray now();

    StreamWriter *m_writer;
    AgentFactory m_factory;
    QHash<QByteArray, Run> m_runs;
    QTimer m_heartbeat;
    QByteArray m_instanceId;
};
