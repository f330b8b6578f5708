#pragma once

#include "agents/Agent.h"
#include "redis/RedisError.h"
#include "runs/RunError.h"
#include "streams/StreamEntry.h"

#include <QHash>
#include <functional>
#include <QObject>
#include <QTimer>

class RedisRouter;
struct RedisScript;
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
    RunManager(StreamWriter *writer, RedisRouter *query, AgentFactory factory, qint64 leaseMs, QObject *parent = nullptr);
    ~RunManager() override;

    // tenant: the API key's tenant id that owns the conversation ("" without auth).
    // firstEntry (optional): the id of the run's `turn` entry, for whenStored().
    // turnFields: more fields for the `turn` entry (an API family's request, kept with the turn).
    QByteArray start(const QString &prompt, const QJsonObject &options = {}, const QByteArray &tenant = {}, EntryId *firstEntry = nullptr,
                     const FieldList &turnFields = {});
    // done(no error) once the conversation's entries up to `entry` are stored in Redis (see
    // StreamWriter::whenStored).
    void whenStored(const QByteArray &conversationId, const EntryId &entry, std::function<void(const RedisError &)> done);
    // Redis answers writes with a transient error (e.g. LOADING): they wait and are retried.
    bool writesStalled() const;

    // Adds a turn to an existing conversation, with the earlier turns (read back from its
    // stream) as history. done(no error, turnEntry) once the new turn's `turn` entry is stored
    // (stream after turnEntry.previous() to see only this turn); errors: NotFound (unknown or
    // another tenant's), Busy (a turn is still running), Unavailable.
    using TurnCallback = std::function<void(const RunError &error, const EntryId &turnEntry)>;
    // tenant "*" = any (auth off). turnFields: as for start().
    void addTurn(const QByteArray &conversationId, const QString &prompt, const QJsonObject &options, const QByteArray &tenant,
                 TurnCallback done, const FieldList &turnFields = {});
    // Cancels a run of another instance through Redis: its stream ends with `cancelled` at once
    // and its owner stops at its next write. done(true) when a running run was cancelled.
    void cancelRemote(const QByteArray &conversationId, std::function<void(bool cancelled, const RedisError &error)> done);
    // True when the run was going here and is now cancelled.
    bool cancel(const QByteArray &conversationId);
    // Ends every run of this process with `interrupted` (graceful shutdown).
    void shutdown();
    bool isRunning(const QByteArray &conversationId) const { return m_runs.contains(conversationId); }
    // Renews every local run's lease now (after Redis was away, the leases queued with the
    // writes of the outage have expired already).
    void renewLeases() { renew(false); }
    int activeRuns() const { return int(m_runs.size()); }
    QByteArray instanceId() const { return m_instanceId; }
    void setHeartbeatMs(int ms);
    // The kEndRun script, and its wake-up channel argument (cluster mode only), for every path
    // that ends a run from outside its owner (here and RunRecovery).
    static const RedisScript &endRunScript();
    static QByteArray wakeChannel(const RedisRouter *router, const QByteArray &conversationId);

Q_SIGNALS:
    void runEnded(const QByteArray &conversationId, const QByteArray &status);

private:
    struct Run
    {
        Agent *agent = nullptr;
        int turn = 1;
        qint64 touchedMs = 0; // last lease/TTL renewal (ms since epoch)
        QByteArray tenant; // owner of the conversation ("" without auth)
    };
    // addTurn once the conversation's lease bucket is listed.
    void claimTurn(const QByteArray &id, const QString &prompt, const QJsonObject &options, const QByteArray &tenant, TurnCallback done,
                   const FieldList &turnFields);
    // Renews the lease and TTL of every run (dueOnly: of those not renewed for a heartbeat period).
    void renew(bool dueOnly);
    void startAgent(const QByteArray &conversationId, const AgentRequest &request, const QByteArray &tenant);
    void end(const QByteArray &conversationId, const QByteArray &status, const QByteArray &code, const QString &message);
    static QByteArray now();
    qint64 leaseUntil() const;

    StreamWriter *m_writer;
    RedisRouter *m_query;
    qint64 m_leaseMs;
    AgentFactory m_factory;
    QHash<QByteArray, Run> m_runs;
    QTimer m_heartbeat;
    qint64 m_heartbeatMs = 5000;
    QByteArray m_instanceId;
};
