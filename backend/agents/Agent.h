#pragma once

#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <functional>

// One turn of a conversation as the model sees it.
struct ChatMessage
{
    QString role; // "user", "assistant"
    QString content;
};

struct AgentRequest
{
    QByteArray conversationId;
    QString prompt;
    QList<ChatMessage> history; // earlier turns, oldest first
    int turn = 1;
    // Extra fields of a JSON create body ({"prompt": ..., "provider": "synthetic", ...}).
    QJsonObject options;
};

// An agent produces the answer to one turn as a sequence of text chunks and then exactly one of
// finished() or failed(). It runs on the backend thread, must never block it, and must stop
// emitting after cancel().
//
//   agent->start(request);  // -> chunk()... toolCall()..., finished() | failed(code, message)
class Agent : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
    ~Agent() override;

    virtual void start(const AgentRequest &request) = 0;
    virtual void cancel() = 0;
    virtual QString name() const = 0;

Q_SIGNALS:
    void chunk(const QString &text);
    // A tool the agent ran (between chunks): its call id, name, JSON arguments and result.
    void toolCall(const QString &callId, const QString &name, const QString &arguments, const QString &output);
    void finished();
    void failed(const QString &code, const QString &message);
};

using AgentFactory = std::function<Agent *(const AgentRequest &request, QObject *parent)>;
