#pragma once

#include "agents/Agent.h"

#include <QStringList>
#include <QTimer>

// The offline TravelPlanner: no network, no key. Streams a markdown itinerary for the prompt in
// small word-sized chunks, one every paceMs, like a model would. With the option
// "demo_tools": true it first calls the weather tool for the destination, as the model-backed
// planner does (a toolCall() before the first chunk).
class DemoAgent : public Agent
{
    Q_OBJECT
public:
    DemoAgent(int paceMs, QObject *parent = nullptr);
    void start(const AgentRequest &request) override;
    void cancel() override;
    QString name() const override { return QStringLiteral("demo"); }

    // Splits text into chunks of 1-3 words keeping every byte (whitespace stays attached).
    static QStringList split(const QString &text);

private:
    void emitNext();
    QTimer m_timer;
    QStringList m_chunks;
    int m_next = 0;
    QStringList m_tool; // a pending tool call: id, name, arguments, output
};
