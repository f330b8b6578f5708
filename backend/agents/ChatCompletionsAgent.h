#pragma once

#include "agents/Agent.h"
#include "agents/ChatCompletionsStreamParser.h"
#include "agents/ProviderConfig.h"

#include <QDate>
#include <QJsonArray>
#include <QPointer>
#include <QTimer>

class AzureCliCredential;
class QNetworkAccessManager;
class QNetworkReply;

// The TravelPlanner on any OpenAI-compatible Chat Completions endpoint (api.openai.com, Azure
// OpenAI, Ollama, llama.cpp, vLLM), streamed with `"stream": true`.
//
// One turn: POST system instructions + history + prompt with the travel tools declared; stream
// `delta.content` out as chunk()s; when the model asks for tools, run TravelTools locally, append
// the assistant's tool_calls and one `tool` message per call, POST again and keep streaming (at
// most config.maxToolRounds rounds, then the tools are switched off with tool_choice "none").
// Azure without a key first gets a bearer token from the Azure CLI (AzureCliCredential).
// A model without tool support (HTTP 400 naming tools on the first request, e.g. Ollama's
// "does not support tools") is asked once more without tools.
//
//   start(request) -> chunk()..., finished() | failed(code, message)
//   codes: rate_limited (429), unauthorized (401/403), timeout (config.timeoutMs of silence),
//          content_filter, provider_error (other HTTP errors, connection lost, bad stream)
//   cancel() aborts the request; nothing is emitted after it.
//
// Never blocks: every step is a signal of QNetworkReply, QProcess or QTimer. The network manager
// is borrowed (shared by the factory, owned by whoever created it); without one the agent makes
// its own.
class ChatCompletionsAgent : public Agent
{
    Q_OBJECT
public:
    explicit ChatCompletionsAgent(const ProviderConfig &config, QNetworkAccessManager *network = nullptr, QObject *parent = nullptr);
    ~ChatCompletionsAgent() override;

    void start(const AgentRequest &request) override;
    void cancel() override;
    QString name() const override;

    // The conversation as Chat Completions messages: system, history, the new prompt.
    static QJsonArray initialMessages(const AgentRequest &request, const QDate &today);
    // withTools = false: the same plan without the tool-calling paragraph.
    static QString systemInstructions(const QDate &today, bool withTools = true);
    // Turns an HTTP error answer into failed()'s (code, message); uses the API's error.message.
    static std::pair<QString, QString> classifyHttpError(int status, const QByteArray &body, const QByteArray &retryAfter = {});

private:
    void authenticateThenSend();
    void send();
    void onReadyRead();
    void onReplyFinished();
    void handle(const QList<ChatCompletionsStreamParser::Event> &events, QNetworkReply *reply);
    void roundComplete();
    void runTools();
    void fail(const QString &code, const QString &message);
    void detachReply(bool abort);

    ProviderConfig m_config;
    QPointer<QNetworkAccessManager> m_network;
    QPointer<QNetworkReply> m_reply;
    QPointer<AzureCliCredential> m_credential;
    QString m_bearer; // Azure CLI token, for this turn
    QJsonArray m_messages;
    ChatCompletionsStreamParser m_parser;
    QByteArray m_errorBody;
    QTimer m_silence;
    int m_toolRounds = 0;
    bool m_running = false;
    bool m_toolsEnabled = true; // off after a server said the model cannot use tools
};
