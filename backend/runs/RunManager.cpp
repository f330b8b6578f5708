#include "runs/RunManager.h"

#include "runs/ConversationId.h"
#include "streams/StreamWriter.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QHostInfo>
#include <QLoggingCategory>
#include <QRandomGenerator>

Q_LOGGING_CATEGORY(lcRuns, "agentstreams.runs")

RunManager::RunManager(StreamWriter *writer, AgentFactory factory, QObject *parent)
    : QObject(parent)
    , m_writer(writer)
    , m_factory(std::move(factory))
    , m_instanceId(QHostInfo::localHostName().toUtf8() + ':' + QByteArray::number(QCoreApplication::applicationPid()) + ':'
                   + QByteArray::number(QRandomGenerator::global()->generate(), 16))
{
    m_heartbeat.setInterval(qMax<qint64>(1000, qMin<qint64>(30000, m_writer->ttlMs() / 3)));
    connect(&m_heartbeat, &QTimer::timeout, this, [this] {
        for (auto it = m_runs.cbegin(); it != m_runs.cend(); ++it)
            m_writer->touch(it.key(), {{"heartbeat_at", now()}});
    });
    connect(m_writer, &StreamWriter::failed, this, [this](const QByteArray &id, const RedisError &error) {
        if (m_runs.contains(id))
            end(id, "failed", "storage_error", QStringLiteral("the answer could not be stored: %1").arg(error.message));
    });
}

RunManager::~RunManager()
{
    for (auto &run : m_runs)
        run.agent->cancel();
}

QByteArray RunManager::now()
{
    return QByteArray::number(QDateTime::currentMSecsSinceEpoch());
}

QByteArray RunManager::start(const QString &prompt, const QJsonObject &options)
{
    const QByteArray id = ConversationId::generate();
    AgentRequest request;
    request.conversationId = id;
    request.prompt = prompt;
    request.turn = 1;
    request.options = options;
    const QByteArray t = now();
    m_writer->append(id, {{"type", "turn"}, {"turn", "1"}, {"prompt", prompt.toUtf8()}},
                     {{"status", "in_progress"}, {"created_at", t}, {"started_at", t}, {"updated_at", t},
                      {"owner", m_instanceId}, {"turn", "1"}});
    startAgent(id, request);
    return id;
}

void RunManager::startAgent(const QByteArray &id, const AgentRequest &request)
{
    Agent *agent = m_factory(request, this);
    m_runs.insert(id, Run{agent, request.turn});
    if (m_runs.size() == 1)
        m_heartbeat.start();
    qCInfo(lcRuns).noquote() << "run" << id << "turn" << request.turn << "started with agent" << agent->name();
    connect(agent, &Agent::chunk, this, [this, id](const QString &text) {
        if (m_runs.contains(id) && !text.isEmpty())
            m_writer->append(id, {{"type", "message"}, {"text", text.toUtf8()}});
    });
    connect(agent, &Agent::finished, this, [this, id] { end(id, "completed", {}, {}); });
    connect(agent, &Agent::failed, this, [this, id](const QString &code, const QString &message) {
        end(id, "failed", code.toUtf8(), message);
    });
    agent->start(request);
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
        m_writer->append(id, {{"type", "done"}}, run);
    } else {
        run.emplace_back("error_code", code);
        run.emplace_back("error_message", message.toUtf8());
        m_writer->append(id, {{"type", "error"}, {"code", code}, {"message", message.toUtf8()}}, run);
    }
    m_writer->release(id);
    if (m_runs.isEmpty())
        m_heartbeat.stop();
    qCInfo(lcRuns).noquote() << "run" << id << status << (code.isEmpty() ? QByteArray() : code);
    Q_EMIT runEnded(id, status);
}
