#include "runs/RunManager.h"

#include "redis/RedisRouter.h"
#include "Metrics.h"
#include "runs/ConversationId.h"
#include "runs/RunRecovery.h"
#include "runs/RunScripts.h"
#include "streams/StreamHub.h"
#include "streams/StreamWriter.h"

#include <QCoreApplication>
#include <QDateTime>
#include <algorithm>
#include <QHostInfo>
#include <QPointer>
#include <QLoggingCategory>
#include <QRandomGenerator>

Q_LOGGING_CATEGORY(lcRuns, "agentstreams.runs")

namespace {
// KEYS[1] run record, KEYS[2] the lease bucket of its slot (listed in the registry first). ARGV: id, owner, now, lease expiry, tenant ("*" = any).
// Claims the conversation for a new turn unless one is running: -1 unknown, -2 busy, else the
// new turn number.
const char kClaimScript[] = R"lua(
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if ARGV[5] ~= '*' and (redis.call('HGET', KEYS[1], 'tenant') or '') ~= ARGV[5] then return -1 end
if status == 'in_progress' or status == 'queued' then return -2 end
local turn = redis.call('HINCRBY', KEYS[1], 'turn', 1)
redis.call('HDEL', KEYS[1], 'error_code', 'error_message', 'finished_at')
redis.call('HSET', KEYS[1], 'status', 'in_progress', 'owner', ARGV[2], 'started_at', ARGV[3], 'updated_at', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return turn
)lua";

const RedisScript &claimScript()
{
    static const RedisScript script = RedisScript::fromSource(kClaimScript);
    return script;
}
} // namespace

const RedisScript &RunManager::endRunScript()
{
    static const RedisScript script = RedisScript::fromSource(RunScripts::kEndRun);
    return script;
}

QByteArray RunManager::wakeChannel(const RedisRouter *router, const QByteArray &conversationId)
{
    return router->isCluster() ? StreamKeys::wake(conversationId) : QByteArray();
}

void RunManager::setHeartbeatMs(int ms)
{
    m_heartbeatMs = ms;
    m_heartbeat.setInterval(qMax(1, ms / 64));
}

RunManager::RunManager(StreamWriter *writer, RedisRouter *query, AgentFactory factory, qint64 leaseMs, QObject *parent)
    : QObject(parent)
    , m_writer(writer)
    , m_query(query)
    , m_leaseMs(leaseMs)
    , m_factory(std::move(factory))
    , m_instanceId(QHostInfo::localHostName().toUtf8() + ':' + QByteArray::number(QCoreApplication::applicationPid()) + ':'
                   + QByteArray::number(QRandomGenerator::global()->generate(), 16))
{
    // Renew well within both the TTL and the lease, so neither runs out while the run is alive.
    setHeartbeatMs(int(std::clamp<qint64>(qMin(m_writer->ttlMs(), RunRecovery::leaseExpiryMs(m_leaseMs)) / 3, 20, 30000)));
    // Each run is renewed once per heartbeat period, counted from its own start: the timer
    // ticks 64 times a period and renews the runs that are due, so thousands of runs that
    // started together do not all hit Redis in the same event-loop turn (at 8 ticks a period,
    // 2,000 runs started over 2 s renewed 250 at a time: a W5-live p99 spike every 500 ms).
    connect(&m_heartbeat, &QTimer::timeout, this, [this] { renew(true); });
    connect(m_writer, &StreamWriter::failed, this, [this](const QByteArray &id, const RedisError &error) {
        auto it = m_runs.find(id);
        if (it == m_runs.end())
            return;
        if (error.message.startsWith(QLatin1String("ENDED"))) {
            // Cancelled (or declared interrupted) from elsewhere: its stream already ended.
            Agent *agent = it->agent;
            m_runs.erase(it);
            agent->cancel();
            agent->disconnect(this);
            agent->deleteLater();
            m_writer->release(id);
            qCInfo(lcRuns).noquote() << "run" << id << "was ended by another instance; stopped";
            Q_EMIT runEnded(id, "cancelled");
            return;
        }
        end(id, "failed", "storage_error", QStringLiteral("the answer could not be stored: %1").arg(error.message));
    });
}

RunManager::~RunManager()
{
    for (auto &run : m_runs)
        run.agent->cancel();
}

void RunManager::renew(bool dueOnly)
{
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    const qint64 lease = leaseUntil();
    QByteArray stamp;
    for (auto it = m_runs.begin(); it != m_runs.end(); ++it) {
        if (dueOnly && nowMs - it->touchedMs < m_heartbeatMs)
            continue;
        if (stamp.isEmpty())
            stamp = now();
        it->touchedMs = nowMs;
        m_writer->touch(it.key(), {{"heartbeat_at", stamp}}, lease);
    }
}

QByteArray RunManager::now()
{
    return QByteArray::number(QDateTime::currentMSecsSinceEpoch());
}

qint64 RunManager::leaseUntil() const
{
    // Shorter than --lease-ms by the sweeps' cadence: see RunRecovery::leaseExpiryMs.
    return QDateTime::currentMSecsSinceEpoch() + RunRecovery::leaseExpiryMs(m_leaseMs);
}

void RunManager::whenStored(const QByteArray &conversationId, const EntryId &entry, std::function<void(const RedisError &)> done)
{
    m_writer->whenStored(conversationId, entry, std::move(done));
}

bool RunManager::writesStalled() const
{
    return m_writer->isStalled();
}

QByteArray RunManager::start(const QString &prompt, const QJsonObject &options, const QByteArray &tenant, EntryId *firstEntry,
                             const FieldList &turnFields)
{
    // A new conversation may live anywhere: on a cluster whose shard is failing over, it goes to
    // a slot whose primary is up (a few draws; one server: the first one).
    QByteArray id = ConversationId::generate();
    for (int draw = 1; draw < 16 && !m_writer->canWrite(id); ++draw)
        id = ConversationId::generate();
    AgentRequest request;
    request.conversationId = id;
    request.prompt = prompt;
    request.turn = 1;
    request.options = options;
    const QByteArray t = now();
    const EntryId first = m_writer->append(id, FieldList{{"type", "turn"}, {"turn", "1"}, {"prompt", prompt.toUtf8()}} + turnFields,
                                           {{"status", "in_progress"}, {"created_at", t}, {"started_at", t}, {"updated_at", t},
                                            {"owner", m_instanceId}, {"turn", "1"}, {"tenant", tenant}},
                                           leaseUntil());
    if (firstEntry)
        *firstEntry = first;
    startAgent(id, request, tenant);
    return id;
}

void RunManager::startAgent(const QByteArray &id, const AgentRequest &request, const QByteArray &tenant)
{
    Agent *agent = m_factory(request, this);
    m_runs.insert(id, Run{agent, request.turn, QDateTime::currentMSecsSinceEpoch(), tenant});
    if (m_runs.size() == 1)
        m_heartbeat.start();
    qCInfo(lcRuns).noquote() << "run" << id << "turn" << request.turn << "started with agent" << agent->name();
    connect(agent, &Agent::chunk, this, [this, id](const QString &text) {
        // Shared field names: a chunk allocates only its text and its field list.
        static const QByteArray type = QByteArrayLiteral("type"), message = QByteArrayLiteral("message"),
                                textField = QByteArrayLiteral("text");
        if (m_runs.contains(id) && !text.isEmpty())
            m_writer->append(id, {{type, message}, {textField, text.toUtf8()}});
    });
    connect(agent, &Agent::toolCall, this, [this, id](const QString &callId, const QString &name, const QString &arguments,
                                                      const QString &output) {
        if (m_runs.contains(id))
            m_writer->append(id, {{"type", "tool"}, {"call_id", callId.toUtf8()}, {"name", name.toUtf8()}, {"arguments", arguments.toUtf8()},
                                  {"output", output.toUtf8()}});
    });
    connect(agent, &Agent::finished, this, [this, id] { end(id, "completed", {}, {}); });
    connect(agent, &Agent::failed, this, [this, id](const QString &code, const QString &message) {
        end(id, "failed", code.toUtf8(), message);
    });
    Metrics::instance().runStarted();
    agent->start(request);
}

void RunManager::cancelRemote(const QByteArray &id, std::function<void(bool, const RedisError &)> done)
{
    m_query->eval(endRunScript(), {StreamKeys::run(id), StreamKeys::stream(id), StreamKeys::leaseBucket(id)},
                  {id, now(), QByteArray::number(m_writer->ttlMs()), "cancelled", "cancelled", "the run was cancelled", "0", wakeChannel(m_query, id)},
                  [done](const RedisReply &reply, const RedisError &error) { done(reply.integer == 1, error); });
}

void RunManager::shutdown()
{
    const QList<QByteArray> ids = m_runs.keys();
    for (const QByteArray &id : ids)
        end(id, "failed", "interrupted", QStringLiteral("the server stopped before the answer was complete; start a new run"));
}

bool RunManager::cancel(const QByteArray &id)
{
    if (!m_runs.contains(id))
        return false;
    end(id, "cancelled", "cancelled", QStringLiteral("the run was cancelled"));
    return true;
}

void RunManager::end(const QByteArray &id, const QByteArray &status, const QByteArray &code, const QString &message)
{
    auto it = m_runs.find(id);
    if (it == m_runs.end())
        return; // exactly one terminal entry per run
    Agent *agent = it->agent;
    m_runs.erase(it);
    agent->cancel();
    agent->disconnect(this);
    agent->deleteLater();
    const QByteArray t = now();
    FieldList run{{"status", status}, {"finished_at", t}, {"updated_at", t}};
    if (status == "completed") {
        m_writer->append(id, {{"type", "done"}}, run, 0);
    } else {
        Metrics::instance().agentError(code);
        run.emplace_back("error_code", code);
        run.emplace_back("error_message", message.toUtf8());
        m_writer->append(id, {{"type", "error"}, {"code", code}, {"message", message.toUtf8()}}, run, 0);
    }
    m_writer->release(id);
    if (m_runs.isEmpty())
        m_heartbeat.stop();
    qCInfo(lcRuns).noquote() << "run" << id << status << (code.isEmpty() ? QByteArray() : code);
    Q_EMIT runEnded(id, status);
}

void RunManager::addTurn(const QByteArray &id, const QString &prompt, const QJsonObject &options, const QByteArray &tenant,
                         TurnCallback done, const FieldList &turnFields)
{
    // Ownership first: another tenant learns nothing, not even that the conversation runs (the
    // claim script checks the tenant before the status, like this).
    auto local = m_runs.constFind(id);
    if (local != m_runs.constEnd() && (tenant == "*" || local->tenant == tenant)) {
        done(RunError::busy(), {});
        return;
    }
    // The claim ZADDs into the slot's lease bucket: listed in the registry before (once).
    QPointer<RunManager> self = this;
    m_writer->whenBucketListed(id, [self, id, prompt, options, tenant, done, turnFields](const RedisError &listed) {
        if (!self)
            return;
        if (listed.isError())
            done(RunError::unavailable(listed.message), {});
        else
            self->claimTurn(id, prompt, options, tenant, done, turnFields);
    });
}

void RunManager::claimTurn(const QByteArray &id, const QString &prompt, const QJsonObject &options, const QByteArray &tenant,
                           TurnCallback done, const FieldList &turnFields)
{
    const QByteArray t = now();
    m_query->eval(claimScript(), {StreamKeys::run(id), StreamKeys::leaseBucket(id)},
                  {id, m_instanceId, t, QByteArray::number(leaseUntil()), tenant},
                  [this, id, prompt, options, done, tenant, turnFields](const RedisReply &reply, const RedisError &error) {
        if (error.isError()) {
            done(RunError::unavailable(error.message), {});
            return;
        }
        if (reply.integer == -1) {
            done(RunError::notFound(id), {});
            return;
        }
        if (reply.integer == -2) {
            done(RunError::busy(), {});
            return;
        }
        const int turn = int(reply.integer);
        // The history is the stream itself: every turn's prompt and the answer that followed.
        m_query->commandRaw({"XRANGE", StreamKeys::stream(id), "-", "+"},
                            [this, id, prompt, options, done, turn, tenant, turnFields](const redisReply *entries, const RedisError &error) {
            AgentRequest request;
            request.conversationId = id;
            request.prompt = prompt;
            request.options = options;
            request.turn = turn;
            EntryId last;
            if (!error.isError()) {
                for (const EntryView &e : EntryView::ofReply(entries)) {
                    last = e.id;
                    const QByteArrayView type = e.type();
                    if (type == "turn") {
                        request.history.append({QStringLiteral("user"), QString::fromUtf8(e.field("prompt"))});
                        request.history.append({QStringLiteral("assistant"), QString()});
                    } else if (type == "message" && !request.history.isEmpty()) {
                        request.history.last().content += QString::fromUtf8(e.field("text"));
                    }
                }
            }
            m_writer->prime(id, last);
            const QByteArray t = now();
            const EntryId turnId = m_writer->append(id, FieldList{{"type", "turn"}, {"turn", QByteArray::number(turn)}, {"prompt", prompt.toUtf8()}} + turnFields,
                             {{"updated_at", t}}, leaseUntil());
            startAgent(id, request, tenant == "*" ? QByteArray() : tenant);
            // Readers of this turn start just before its first entry: not at the previous
            // turn's terminal entry, which would end them before the new entries are written.
            // The answer waits until that entry is stored (another instance may be asked next).
            m_writer->whenStored(id, turnId, [done, turnId](const RedisError &stored) {
                if (stored.isError())
                    done({RunError::Kind::Unavailable, QStringLiteral("the new turn could not be stored (%1); try again shortly").arg(stored.message)}, {});
                else
                    done({}, turnId);
            });
        });
    });
}
