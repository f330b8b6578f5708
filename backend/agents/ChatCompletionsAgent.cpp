#include "agents/ChatCompletionsAgent.h"

#include "agents/AzureCliCredential.h"
#include "agents/TravelTools.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>

Q_LOGGING_CATEGORY(lcChat, "agentstreams.agents.chat")

namespace {
constexpr qsizetype kMaxErrorBody = 64 * 1024;

QJsonObject message(const QString &role, const QString &content)
{
    return QJsonObject{{QStringLiteral("role"), role}, {QStringLiteral("content"), content}};
}
} // namespace

ChatCompletionsAgent::ChatCompletionsAgent(const ProviderConfig &config, QNetworkAccessManager *network, QObject *parent)
    : Agent(parent)
    , m_config(config)
    , m_network(network)
{
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    m_silence.setSingleShot(true);
    m_silence.setInterval(qMax(1, config.timeoutMs));
    connect(&m_silence, &QTimer::timeout, this, [this] {
        fail(QStringLiteral("timeout"),
             QStringLiteral("the model provider sent nothing for %1 s").arg(m_silence.interval() / 1000.0));
    });
}

ChatCompletionsAgent::~ChatCompletionsAgent()
{
    m_running = false;
    detachReply(true);
}

QString ChatCompletionsAgent::name() const
{
    return m_config.kind == ProviderConfig::Kind::Azure ? QStringLiteral("azure-openai:%1").arg(m_config.deployment)
                                                        : QStringLiteral("openai:%1").arg(m_config.model);
}

QString ChatCompletionsAgent::systemInstructions(const QDate &today, bool withTools)
{
    const QString tools = withTools
        ? QStringLiteral("- Before writing each day, call `get_weather_forecast` and `get_local_events` for that destination and date, "
                         "and weave the results into the day (a weather line, and what is happening that day). You may call several "
                         "tools at once.\n")
        : QStringLiteral("- For every day, add a short line on the typical weather for the season and one event or festival worth "
                         "checking.\n");
    return QStringLiteral(
               "You are TravelPlanner, an expert travel agent. Create a detailed day-by-day itinerary for the trip the user "
               "describes.\n"
               "- Start with a title line (markdown heading) naming the destination and trip length.\n"
               "- For every day, write a `## Day N` heading with the date, then morning, lunch, afternoon, evening and dinner "
               "suggestions with specific places, neighbourhoods and practical details (travel times, booking advice).\n"
               "%2"
               "- Finish with sections on getting around, a rough budget and practical tips.\n"
               "- Use markdown: headings, bullet lists, bold for key places, a few emoji.\n"
               "- If the user gives no dates, assume the trip starts one month from today. If no length is given, plan 3 days.\n"
               "- When the user asks for changes to an earlier plan, update that plan rather than starting over.\n"
               "Today is %1.")
        .arg(today.toString(Qt::ISODate), tools);
}

QJsonArray ChatCompletionsAgent::initialMessages(const AgentRequest &request, const QDate &today)
{
    QJsonArray messages{message(QStringLiteral("system"), systemInstructions(today))};
    // The caller's own instructions (/v1/responses `instructions`) come after the planner's.
    const QString instructions = request.options.value(QStringLiteral("instructions")).toString();
    if (!instructions.trimmed().isEmpty())
        messages.append(message(QStringLiteral("system"), instructions));
    for (const ChatMessage &m : request.history) {
        if (m.content.isEmpty())
            continue;
        messages.append(message(m.role == QLatin1String("assistant") ? QStringLiteral("assistant") : QStringLiteral("user"), m.content));
    }
    messages.append(message(QStringLiteral("user"), request.prompt));
    return messages;
}

std::pair<QString, QString> ChatCompletionsAgent::classifyHttpError(int status, const QByteArray &body, const QByteArray &retryAfter)
{
    QString code = QStringLiteral("provider_error");
    if (status == 429)
        code = QStringLiteral("rate_limited");
    else if (status == 401 || status == 403)
        code = QStringLiteral("unauthorized");

    // {"error": {"message": ..., "type": ..., "code": ...}} from OpenAI, Azure, vLLM, llama.cpp;
    // {"error": "..."} from some others.
    QString detail;
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    if (doc.isObject()) {
        const QJsonValue error = doc.object().value(QStringLiteral("error"));
        detail = error.isObject() ? error.toObject().value(QStringLiteral("message")).toString() : error.toString();
        if (detail.isEmpty())
            detail = doc.object().value(QStringLiteral("message")).toString();
    }
    if (detail.isEmpty() && !doc.isObject() && !body.trimmed().isEmpty() && !body.trimmed().startsWith('<'))
        detail = QString::fromUtf8(body.trimmed().left(300)); // short plain-text bodies, never HTML pages
    QString text = QStringLiteral("the model provider answered HTTP %1").arg(status);
    if (!detail.isEmpty())
        text += QStringLiteral(": ") + detail;
    if (status == 429 && !retryAfter.isEmpty())
        text += QStringLiteral(" (retry after %1 s)").arg(QString::fromLatin1(retryAfter));
    return {code, text};
}

void ChatCompletionsAgent::start(const AgentRequest &request)
{
    m_running = true;
    m_toolRounds = 0;
    m_messages = initialMessages(request, QDate::currentDate());
    if (!m_config.isValid()) {
        QMetaObject::invokeMethod(this, [this] { fail(QStringLiteral("provider_error"), m_config.error); }, Qt::QueuedConnection);
        return;
    }
    authenticateThenSend();
}

void ChatCompletionsAgent::authenticateThenSend()
{
    if (!m_config.usesAzureCli()) {
        send();
        return;
    }
    m_credential = new AzureCliCredential(m_config.timeoutMs, this);
    connect(m_credential, &AzureCliCredential::ready, this, [this](const QString &token) {
        m_credential->deleteLater();
        m_bearer = token;
        send();
    });
    connect(m_credential, &AzureCliCredential::failed, this, [this](const QString &why) {
        m_credential->deleteLater();
        fail(QStringLiteral("unauthorized"), why);
    });
    m_credential->fetch();
}

void ChatCompletionsAgent::send()
{
    if (!m_running)
        return;
    QNetworkRequest request(m_config.chatCompletionsUrl());
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setHeader(QNetworkRequest::UserAgentHeader, QByteArrayLiteral("agent-streams"));
    request.setRawHeader("Accept", "text/event-stream");
    if (m_config.kind == ProviderConfig::Kind::Azure && !m_config.apiKey.isEmpty())
        request.setRawHeader("api-key", m_config.apiKey.toUtf8());
    else if (const QString bearer = m_config.kind == ProviderConfig::Kind::Azure ? m_bearer : m_config.apiKey; !bearer.isEmpty())
        request.setRawHeader("Authorization", "Bearer " + bearer.toUtf8());

    QJsonObject body{{QStringLiteral("messages"), m_messages}, {QStringLiteral("stream"), true}};
    if (m_toolsEnabled) {
        body.insert(QStringLiteral("tools"), TravelTools::definitions());
        // After maxToolRounds the model must answer with what it has.
        body.insert(QStringLiteral("tool_choice"),
                    m_toolRounds >= m_config.maxToolRounds ? QStringLiteral("none") : QStringLiteral("auto"));
    }
    if (m_config.kind == ProviderConfig::Kind::OpenAI)
        body.insert(QStringLiteral("model"), m_config.model);

    m_parser = ChatCompletionsStreamParser();
    m_errorBody.clear();
    QNetworkReply *reply = m_network->post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
    m_reply = reply;
    connect(reply, &QNetworkReply::readyRead, this, &ChatCompletionsAgent::onReadyRead);
    connect(reply, &QNetworkReply::finished, this, &ChatCompletionsAgent::onReplyFinished);
    m_silence.start();
    qCDebug(lcChat).noquote() << name() << "round" << m_toolRounds << "POST" << m_config.chatCompletionsUrl().toString(QUrl::RemoveQuery);
}

void ChatCompletionsAgent::onReadyRead()
{
    QNetworkReply *reply = m_reply;
    if (!reply || sender() != reply)
        return;
    m_silence.start();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 400) { // keep the error body for onReplyFinished
        m_errorBody += reply->read(qMax<qint64>(0, kMaxErrorBody - m_errorBody.size()));
        reply->readAll();
        return;
    }
    handle(m_parser.feed(reply->readAll()), reply);
}

void ChatCompletionsAgent::onReplyFinished()
{
    QNetworkReply *reply = m_reply;
    if (!reply || sender() != reply)
        return;
    m_silence.stop();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status >= 400) {
        m_errorBody += reply->read(qMax<qint64>(0, kMaxErrorBody - m_errorBody.size()));
        auto [code, text] = classifyHttpError(status, m_errorBody, reply->rawHeader("Retry-After"));
        if (status == 401 && m_config.usesAzureCli())
            AzureCliCredential::invalidate();
        if (status == 400 && m_toolsEnabled && m_toolRounds == 0 && text.contains(QLatin1String("tool"), Qt::CaseInsensitive)) {
            qCWarning(lcChat).noquote() << name() << "the model cannot use tools (" << text << "): asking again without tools";
            m_toolsEnabled = false;
            m_messages[0] = message(QStringLiteral("system"), systemInstructions(QDate::currentDate(), false));
            detachReply(true);
            send();
            return;
        }
        fail(code, text);
        return;
    }
    handle(m_parser.feed(reply->readAll()), reply);
    if (!m_running || m_reply != reply)
        return; // failed, cancelled or the round completed with [DONE]
    handle(m_parser.finish(), reply);
    if (!m_running || m_reply != reply)
        return;
    if (reply->error() == QNetworkReply::NoError && !m_parser.finishReason().isEmpty()) {
        roundComplete(); // a server that ends the response without [DONE]: the answer is complete
        return;
    }
    const QString host = m_config.baseUrl.host();
    if (reply->error() == QNetworkReply::NoError) {
        fail(QStringLiteral("provider_error"),
             m_parser.sawData() ? QStringLiteral("the model provider at %1 ended the stream early: connection lost before [DONE]").arg(host)
                                : QStringLiteral("the model provider at %1 answered HTTP %2 without an event stream").arg(host).arg(status));
    } else if (status == 0 && !m_parser.sawData()) {
        fail(QStringLiteral("provider_error"), QStringLiteral("cannot reach the model provider at %1: %2").arg(host, reply->errorString()));
    } else {
        fail(QStringLiteral("provider_error"),
             QStringLiteral("connection lost to the model provider at %1 before the answer was complete: %2").arg(host, reply->errorString()));
    }
}

void ChatCompletionsAgent::handle(const QList<ChatCompletionsStreamParser::Event> &events, QNetworkReply *reply)
{
    for (const auto &event : events) {
        if (!m_running || m_reply != reply)
            return; // a chunk() receiver cancelled us
        switch (event.type) {
        case ChatCompletionsStreamParser::Event::Content:
            Q_EMIT chunk(event.text);
            break;
        case ChatCompletionsStreamParser::Event::Finish:
            break; // acted on at [DONE]
        case ChatCompletionsStreamParser::Event::Done:
            roundComplete();
            return;
        case ChatCompletionsStreamParser::Event::Error:
            fail(QStringLiteral("provider_error"), QStringLiteral("the model provider reported an error: %1").arg(event.text));
            return;
        }
    }
}

void ChatCompletionsAgent::roundComplete()
{
    m_silence.stop();
    detachReply(false); // everything is read; let the reply finish (and keep its connection) alone
    if (!m_parser.toolCalls().isEmpty()) {
        if (m_toolRounds >= m_config.maxToolRounds) {
            fail(QStringLiteral("provider_error"),
                 QStringLiteral("the model still asked for tools after %1 rounds with tools switched off").arg(m_toolRounds));
            return;
        }
        runTools();
        return;
    }
    if (m_parser.finishReason() == QLatin1String("content_filter")) {
        fail(QStringLiteral("content_filter"), QStringLiteral("the model provider's content filter stopped the answer"));
        return;
    }
    m_running = false;
    Q_EMIT finished();
}

void ChatCompletionsAgent::runTools()
{
    ++m_toolRounds;
    const auto calls = m_parser.toolCalls();
    QJsonArray toolCalls;
    for (int i = 0; i < calls.size(); ++i) {
        const QString id = calls[i].id.isEmpty() ? QStringLiteral("call_%1_%2").arg(m_toolRounds).arg(i) : calls[i].id;
        toolCalls.append(QJsonObject{{QStringLiteral("id"), id},
                                     {QStringLiteral("type"), QStringLiteral("function")},
                                     {QStringLiteral("function"), QJsonObject{{QStringLiteral("name"), calls[i].name},
                                                                              {QStringLiteral("arguments"), calls[i].arguments}}}});
    }
    const QString content = m_parser.content();
    m_messages.append(QJsonObject{{QStringLiteral("role"), QStringLiteral("assistant")},
                                  {QStringLiteral("content"), content.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(content)},
                                  {QStringLiteral("tool_calls"), toolCalls}});
    for (int i = 0; i < calls.size(); ++i) {
        bool ok = false;
        const QString result = TravelTools::call(calls[i].name, calls[i].arguments, &ok);
        qCDebug(lcChat).noquote() << name() << "tool" << calls[i].name << calls[i].arguments << (ok ? "->" : "failed:") << result;
        Q_EMIT toolCall(toolCalls.at(i).toObject().value(QStringLiteral("id")).toString(), calls[i].name, calls[i].arguments, result);
        m_messages.append(QJsonObject{{QStringLiteral("role"), QStringLiteral("tool")},
                                      {QStringLiteral("tool_call_id"), toolCalls.at(i).toObject().value(QStringLiteral("id"))},
                                      {QStringLiteral("content"), result}});
    }
    send();
}

void ChatCompletionsAgent::fail(const QString &code, const QString &message)
{
    if (!m_running)
        return;
    m_running = false;
    m_silence.stop();
    detachReply(true);
    if (m_credential)
        m_credential->abort();
    qCWarning(lcChat).noquote() << name() << "failed:" << code << message;
    Q_EMIT failed(code, message);
}

void ChatCompletionsAgent::cancel()
{
    m_running = false;
    m_silence.stop();
    detachReply(true);
    if (m_credential)
        m_credential->abort();
}

void ChatCompletionsAgent::detachReply(bool abort)
{
    QNetworkReply *reply = m_reply;
    m_reply = nullptr;
    if (!reply)
        return;
    reply->disconnect(this);
    if (abort || reply->isFinished()) {
        if (abort && !reply->isFinished())
            reply->abort();
        reply->deleteLater();
        return;
    }
    // Read to the end (the chunked terminator) so the connection can be reused, then go.
    connect(reply, &QNetworkReply::readyRead, reply, [reply] { reply->readAll(); });
    connect(reply, &QNetworkReply::finished, reply, &QObject::deleteLater);
    QTimer::singleShot(30000, reply, [reply] { reply->abort(); }); // a server that never ends it
}
