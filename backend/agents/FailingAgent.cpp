#include "agents/FailingAgent.h"

FailingAgent::FailingAgent(const QString &code, const QString &message, QObject *parent)
    : Agent(parent)
    , m_code(code)
    , m_message(message)
{
}

void FailingAgent::start(const AgentRequest &)
{
    m_running = true;
    QMetaObject::invokeMethod(
        this,
        [this] {
            if (!m_running)
                return;
            m_running = false;
            Q_EMIT failed(m_code, m_message);
        },
        Qt::QueuedConnection);
}
