#pragma once

#include "agents/Agent.h"

// An agent that only fails with a fixed (code, message), one event-loop turn after start():
// how the factory answers a request it cannot serve (a disabled or misconfigured provider), so
// the client sees the reason as the run's error entry.
class FailingAgent : public Agent
{
    Q_OBJECT
public:
    FailingAgent(const QString &code, const QString &message, QObject *parent = nullptr);
    void start(const AgentRequest &request) override;
    void cancel() override { m_running = false; }
    QString name() const override { return QStringLiteral("unavailable"); }

private:
    QString m_code;
    QString m_message;
    bool m_running = false;
};
