// ChatCompletionsAgent against a fake OpenAI-compatible server speaking real HTTP/1.1 + SSE.
#include "FakeChatServer.h"
#include "agents/AzureCliCredential.h"
#include "agents/ChatCompletionsAgent.h"
#include "agents/TravelTools.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

namespace {
ProviderConfig openAi(quint16 port)
{
    ProviderConfig c;
    c.kind = ProviderConfig::Kind::OpenAI;
    c.baseUrl = QUrl(QStringLiteral("http://127.0.0.1:%1/v1").arg(port));
    c.model = QStringLiteral("gpt-4o-mini");
    c.apiKey = QStringLiteral("sk-test-123");
    return c;
}
ProviderConfig azure(quint16 port, const QString &key)
{
    ProviderConfig c;
    c.kind = ProviderConfig::Kind::Azure;
    c.baseUrl = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port));
    c.deployment = QStringLiteral("gpt-4o");
    c.apiKey = key;
    return c;
}
AgentRequest request(const QString &prompt = QStringLiteral("Plan a 2-day trip to Oslo, Norway"))
{
    AgentRequest r;
    r.conversationId = "@dafx-travelplanner@0123456789abcdef0123456789abcdef";
    r.prompt = prompt;
    return r;
}

// Records everything an agent emits.
struct Probe
{
    explicit Probe(Agent *a)
        : chunks(a, &Agent::chunk)
        , finished(a, &Agent::finished)
        , failed(a, &Agent::failed)
    {
    }
    QString text() const
    {
        QString t;
        for (const auto &args : chunks)
            t += args.at(0).toString();
        return t;
    }
    QString code() const { return failed.isEmpty() ? QString() : failed.first().at(0).toString(); }
    QString message() const { return failed.isEmpty() ? QString() : failed.first().at(1).toString(); }
    QSignalSpy chunks, finished, failed;
};

QJsonObject toolCallDelta(int index, const QString &id, const QString &name, const QString &arguments)
{
    QJsonObject function{{"arguments", arguments}};
    QJsonObject call{{"index", index}, {"function", function}};
    if (!id.isEmpty()) {
        call.insert("id", id);
        call.insert("type", "function");
        function.insert("name", name);
        call.insert("function", function);
    }
    return QJsonObject{{"tool_calls", QJsonArray{call}}};
}
} // namespace

class TestChatCompletionsAgent : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void streamsTextOpenAiShape();
    void toolCallRoundTrip();
    void instructionsFollowThePlannersSystemPrompt();
    void toolRoundsAreCapped();
    void modelWithoutToolsIsAskedAgainWithoutTools();
    void splitUtf8ArrivesIntact();
    void httpErrors_data();
    void httpErrors();
    void midStreamDisconnectFails();
    void endWithoutDoneFails();
    void cannotConnect();
    void silenceTimesOut();
    void cancelMidStreamStopsEverything();
    void azureKeyShape();
    void azureCliToken();
    void azureCliMissing();

private:
    QByteArray m_path;
};

void TestChatCompletionsAgent::init()
{
    AzureCliCredential::invalidate();
    if (m_path.isEmpty())
        m_path = qgetenv("PATH");
    qputenv("PATH", m_path);
}

void TestChatCompletionsAgent::streamsTextOpenAiShape()
{
    FakeChatServer server;
    server.onRequest = [](int, QTcpSocket *s) { FakeChatServer::sendText(s, {"# Oslo", "\n\n## Day 1", " — fjord ⛴️"}); };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    AgentRequest r = request(QStringLiteral("Make day 2 shorter"));
    r.turn = 2;
    r.history = {{"user", "Plan a 2-day trip to Oslo"}, {"assistant", "# Oslo\nDay 1 ... Day 2 ..."}};
    agent.start(r);
    QVERIFY(probe.finished.wait(10000));
    QCOMPARE(probe.failed.count(), 0);
    QCOMPARE(probe.chunks.count(), 3);
    QCOMPARE(probe.text(), QStringLiteral("# Oslo\n\n## Day 1 — fjord ⛴️"));

    QCOMPARE(server.requests.size(), 1);
    const auto &req = server.requests.first();
    QCOMPARE(req.method, QByteArray("POST"));
    QCOMPARE(req.target, QByteArray("/v1/chat/completions"));
    QCOMPARE(req.headers.value("authorization"), QByteArray("Bearer sk-test-123"));
    QVERIFY(req.headers.value("content-type").startsWith("application/json"));
    QVERIFY(!req.headers.contains("api-key"));
    const QJsonObject body = req.json();
    QCOMPARE(body.value("model").toString(), QStringLiteral("gpt-4o-mini"));
    QCOMPARE(body.value("stream").toBool(), true);
    QCOMPARE(body.value("tools").toArray(), TravelTools::definitions());
    const QJsonArray messages = body.value("messages").toArray();
    QCOMPARE(messages.size(), 4);
    QCOMPARE(messages[0]["role"].toString(), QStringLiteral("system"));
    QVERIFY(messages[0]["content"].toString().contains(QLatin1String("get_weather_forecast")));
    QCOMPARE(messages[1]["content"].toString(), QStringLiteral("Plan a 2-day trip to Oslo"));
    QCOMPARE(messages[2]["role"].toString(), QStringLiteral("assistant"));
    QCOMPARE(messages[3]["role"].toString(), QStringLiteral("user"));
    QCOMPARE(messages[3]["content"].toString(), QStringLiteral("Make day 2 shorter"));
    QVERIFY(!probe.finished.wait(50) && probe.finished.count() == 1);
}

void TestChatCompletionsAgent::toolCallRoundTrip()
{
    FakeChatServer server;
    const QString args0 = QStringLiteral(R"({"destination":"Oslo, Norway","date":"2025-06-01"})");
    const QString args1 = QStringLiteral(R"({"destination":"Oslo, Norway","date":"2025-06-01"})");
    server.onRequest = [&](int index, QTcpSocket *s) {
        if (index == 0) { // two parallel calls, arguments cut mid-string, like OpenAI
            FakeChatServer::beginStream(s);
            FakeChatServer::sendDelta(s, {{"role", "assistant"}, {"content", QJsonValue::Null}});
            FakeChatServer::sendDelta(s, toolCallDelta(0, "call_w", "get_weather_forecast", ""));
            FakeChatServer::sendDelta(s, toolCallDelta(0, {}, {}, args0.left(17)));
            FakeChatServer::sendDelta(s, toolCallDelta(1, "call_e", "get_local_events", ""));
            FakeChatServer::sendDelta(s, toolCallDelta(0, {}, {}, args0.mid(17)));
            FakeChatServer::sendDelta(s, toolCallDelta(1, {}, {}, args1));
            FakeChatServer::sendDelta(s, {}, QStringLiteral("tool_calls"));
            FakeChatServer::sendDone(s);
        } else {
            FakeChatServer::sendText(s, {"Day 1: ", "sunny in Oslo."});
        }
    };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    QSignalSpy tools(&agent, &Agent::toolCall); // what /v1/responses shows as function_call items
    agent.start(request());
    QVERIFY(probe.finished.wait(10000));
    QCOMPARE(probe.failed.count(), 0);
    QCOMPARE(probe.text(), QStringLiteral("Day 1: sunny in Oslo."));
    QCOMPARE(tools.count(), 2);
    QCOMPARE(tools.at(0).at(0).toString(), QStringLiteral("call_w"));
    QCOMPARE(tools.at(0).at(1).toString(), QStringLiteral("get_weather_forecast"));
    QCOMPARE(tools.at(0).at(2).toString(), args0);
    QVERIFY(!tools.at(0).at(3).toString().isEmpty());
    QCOMPARE(tools.at(1).at(1).toString(), QStringLiteral("get_local_events"));
    QCOMPARE(server.requests.size(), 2);

    const QJsonArray first = server.requests[0].json().value("messages").toArray();
    const QJsonArray second = server.requests[1].json().value("messages").toArray();
    QCOMPARE(second.size(), first.size() + 3); // + assistant tool_calls, + two tool results
    for (int i = 0; i < first.size(); ++i)
        QCOMPARE(second[i], first[i]);
    const QJsonObject assistant = second[first.size()].toObject();
    QCOMPARE(assistant["role"].toString(), QStringLiteral("assistant"));
    QVERIFY(assistant["content"].isNull());
    const QJsonArray calls = assistant["tool_calls"].toArray();
    QCOMPARE(calls.size(), 2);
    QCOMPARE(calls[0]["id"].toString(), QStringLiteral("call_w"));
    QCOMPARE(calls[0]["type"].toString(), QStringLiteral("function"));
    QCOMPARE(calls[0]["function"]["name"].toString(), QStringLiteral("get_weather_forecast"));
    QCOMPARE(calls[0]["function"]["arguments"].toString(), args0);
    QCOMPARE(calls[1]["id"].toString(), QStringLiteral("call_e"));
    QCOMPARE(calls[1]["function"]["arguments"].toString(), args1);

    const QJsonObject weather = second[first.size() + 1].toObject();
    QCOMPARE(weather["role"].toString(), QStringLiteral("tool"));
    QCOMPARE(weather["tool_call_id"].toString(), QStringLiteral("call_w"));
    QCOMPARE(weather["content"].toString(), TravelTools::call(QStringLiteral("get_weather_forecast"), args0));
    QVERIFY(weather["content"].toString().contains(TravelTools::weatherForecast(QStringLiteral("Oslo, Norway"), QStringLiteral("2025-06-01"))));
    const QJsonObject events = second[first.size() + 2].toObject();
    QCOMPARE(events["tool_call_id"].toString(), QStringLiteral("call_e"));
    QVERIFY(events["content"].toString().contains(TravelTools::localEvents(QStringLiteral("Oslo, Norway"), QStringLiteral("2025-06-01"))));
    QCOMPARE(server.requests[1].json().value("tool_choice").toString(), QStringLiteral("auto"));
}

void TestChatCompletionsAgent::instructionsFollowThePlannersSystemPrompt()
{
    FakeChatServer server;
    server.onRequest = [](int, QTcpSocket *s) { FakeChatServer::sendText(s, {"ok"}); };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    AgentRequest r = request(QStringLiteral("Plan a day in Oslo"));
    r.options.insert(QStringLiteral("instructions"), QStringLiteral("Answer in French."));
    agent.start(r);
    QVERIFY(probe.finished.wait(10000));
    const QJsonArray messages = server.requests.first().json().value("messages").toArray();
    QCOMPARE(messages.size(), 3);
    QCOMPARE(messages[1]["role"].toString(), QStringLiteral("system"));
    QCOMPARE(messages[1]["content"].toString(), QStringLiteral("Answer in French."));
    QCOMPARE(messages[2]["content"].toString(), QStringLiteral("Plan a day in Oslo"));
}

void TestChatCompletionsAgent::toolRoundsAreCapped()
{
    FakeChatServer server;
    server.onRequest = [](int index, QTcpSocket *s) { // a model that never stops calling tools
        FakeChatServer::beginStream(s);
        FakeChatServer::sendDelta(s, toolCallDelta(0, QStringLiteral("call_%1").arg(index), "get_local_events", "{}"));
        FakeChatServer::sendDelta(s, {}, QStringLiteral("tool_calls"));
        FakeChatServer::sendDone(s);
    };
    ProviderConfig config = openAi(server.port());
    config.maxToolRounds = 2;
    ChatCompletionsAgent agent(config);
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.failed.wait(10000));
    QCOMPARE(probe.code(), QStringLiteral("provider_error"));
    QCOMPARE(server.requests.size(), 3);
    QCOMPARE(server.requests[1].json().value("tool_choice").toString(), QStringLiteral("auto"));
    QCOMPARE(server.requests[2].json().value("tool_choice").toString(), QStringLiteral("none"));
    // The bad arguments of the model became a readable tool error, not a crash.
    const QJsonArray messages = server.requests[1].json().value("messages").toArray();
    QVERIFY(messages.last()["content"].toString().contains(QLatin1String("required")));
}

void TestChatCompletionsAgent::modelWithoutToolsIsAskedAgainWithoutTools()
{
    FakeChatServer server;
    server.onRequest = [](int index, QTcpSocket *s) {
        if (index == 0) // what Ollama answers for a model without tool support
            FakeChatServer::sendJson(s, 400, R"({"error":{"message":"registry.ollama.ai/library/gemma2:latest does not support tools","type":"api_error","param":null,"code":null}})");
        else
            FakeChatServer::sendText(s, {"Day 1 in Oslo"});
    };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.finished.wait(10000));
    QCOMPARE(probe.text(), QStringLiteral("Day 1 in Oslo"));
    QCOMPARE(server.requests.size(), 2);
    QVERIFY(server.requests[0].json().contains("tools"));
    QVERIFY(!server.requests[1].json().contains("tools"));
    QVERIFY(!server.requests[1].json().contains("tool_choice"));
    const QString system = server.requests[1].json().value("messages").toArray().first()["content"].toString();
    QVERIFY(!system.contains(QLatin1String("get_weather_forecast")));
}

void TestChatCompletionsAgent::splitUtf8ArrivesIntact()
{
    FakeChatServer server;
    QPointer<QTcpSocket> socket;
    server.onRequest = [&](int, QTcpSocket *s) { socket = s; };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    agent.start(request());
    QTRY_VERIFY_WITH_TIMEOUT(socket, 10000);

    FakeChatServer::beginStream(socket);
    const QByteArray first = FakeChatServer::event({{"content", "A"}});
    const QByteArray second = FakeChatServer::event({{"content", QStringLiteral("tower 🗼!")}});
    const qsizetype cut = second.indexOf("\xF0\x9F\x97\xBC") + 2; // inside the 4-byte emoji
    // One TCP write ends in the middle of the emoji; the agent has processed it (it emitted "A")
    // before the rest is written.
    FakeChatServer::writeChunk(socket, first + second.left(cut));
    QTRY_COMPARE_WITH_TIMEOUT(probe.chunks.count(), 1, 10000);
    QCOMPARE(probe.text(), QStringLiteral("A"));
    FakeChatServer::writeChunk(socket, second.mid(cut));
    QTRY_COMPARE_WITH_TIMEOUT(probe.chunks.count(), 2, 10000);
    QCOMPARE(probe.chunks.at(1).at(0).toString(), QStringLiteral("tower 🗼!"));
    // And an HTTP chunk boundary inside a character, written separately too.
    const QByteArray third = FakeChatServer::event({{"content", QStringLiteral("é東")}});
    const qsizetype cut3 = third.indexOf("\xE6\x9D") + 1;
    FakeChatServer::writeChunk(socket, third.left(cut3));
    FakeChatServer::writeChunk(socket, third.mid(cut3));
    FakeChatServer::sendDelta(socket, {}, QStringLiteral("stop"));
    FakeChatServer::sendDone(socket);
    QVERIFY(probe.finished.wait(10000));
    QCOMPARE(probe.text(), QStringLiteral("Atower 🗼!é東"));
}

void TestChatCompletionsAgent::httpErrors_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("mention");
    QTest::newRow("429 json") << 429
                              << QByteArray(R"({"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3.","type":"requests","param":null,"code":"rate_limit_exceeded"}})")
                              << QByteArray("Retry-After: 20\r\n") << "rate_limited" << "Rate limit reached for gpt-4o-mini";
    QTest::newRow("401 json") << 401
                              << QByteArray(R"({"error":{"message":"Incorrect API key provided: sk-test***123.","type":"invalid_request_error","code":"invalid_api_key"}})")
                              << QByteArray() << "unauthorized" << "Incorrect API key provided";
    QTest::newRow("403") << 403 << QByteArray(R"({"error":{"code":"PermissionDenied","message":"Principal does not have access"}})")
                         << QByteArray() << "unauthorized" << "Principal does not have access";
    QTest::newRow("404 ollama model") << 404 << QByteArray(R"({"error":{"message":"model \"llama9\" not found, try pulling it first","type":"api_error"}})")
                                      << QByteArray() << "provider_error" << "not found";
    QTest::newRow("500 html") << 500 << QByteArray("<html><body>oops</body></html>") << QByteArray() << "provider_error" << "HTTP 500";
    QTest::newRow("400 string error") << 400 << QByteArray(R"({"error":"tools are not supported"})") << QByteArray() << "provider_error"
                                      << "tools are not supported";
}

void TestChatCompletionsAgent::httpErrors()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, headers);
    QFETCH(QString, code);
    QFETCH(QString, mention);
    FakeChatServer server;
    server.onRequest = [&](int, QTcpSocket *s) { FakeChatServer::sendJson(s, status, body, headers); };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.failed.wait(10000));
    QCOMPARE(probe.code(), code);
    QVERIFY2(probe.message().contains(mention), qPrintable(probe.message()));
    QVERIFY(!probe.message().contains(QLatin1String("<html")));
    QCOMPARE(probe.chunks.count(), 0);
    QCOMPARE(probe.finished.count(), 0);
}

void TestChatCompletionsAgent::midStreamDisconnectFails()
{
    FakeChatServer server;
    server.onRequest = [](int, QTcpSocket *s) {
        FakeChatServer::beginStream(s);
        FakeChatServer::sendDelta(s, {{"content", "Day 1"}});
        s->abort(); // the connection drops: no [DONE], no chunked terminator
    };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.failed.wait(10000));
    QCOMPARE(probe.code(), QStringLiteral("provider_error"));
    QVERIFY2(probe.message().contains(QLatin1String("connection lost")), qPrintable(probe.message()));
    QCOMPARE(probe.finished.count(), 0);
}

void TestChatCompletionsAgent::endWithoutDoneFails()
{
    FakeChatServer server;
    server.onRequest = [](int, QTcpSocket *s) {
        FakeChatServer::beginStream(s);
        FakeChatServer::sendDelta(s, {{"content", "Day 1"}});
        s->write("0\r\n\r\n"); // a well-formed end of body, but the answer never finished
        s->flush();
    };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.failed.wait(10000));
    QCOMPARE(probe.code(), QStringLiteral("provider_error"));
    QVERIFY2(probe.message().contains(QLatin1String("connection lost")), qPrintable(probe.message()));
}

void TestChatCompletionsAgent::cannotConnect()
{
    quint16 port;
    {
        QTcpServer probePort;
        QVERIFY(probePort.listen(QHostAddress::LocalHost, 0));
        port = probePort.serverPort();
    } // closed: nothing listens there now
    ChatCompletionsAgent agent(openAi(port));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.failed.wait(10000));
    QCOMPARE(probe.code(), QStringLiteral("provider_error"));
    QVERIFY2(probe.message().contains(QLatin1String("cannot reach")), qPrintable(probe.message()));
}

void TestChatCompletionsAgent::silenceTimesOut()
{
    FakeChatServer server;
    server.onRequest = [](int, QTcpSocket *s) {
        FakeChatServer::beginStream(s);
        FakeChatServer::sendDelta(s, {{"content", "thinking"}}); // then nothing
    };
    ProviderConfig config = openAi(server.port());
    config.timeoutMs = 300;
    ChatCompletionsAgent agent(config);
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.failed.wait(10000));
    QCOMPARE(probe.code(), QStringLiteral("timeout"));
    QCOMPARE(probe.text(), QStringLiteral("thinking"));
    QTRY_COMPARE_WITH_TIMEOUT(server.disconnects, 1, 10000); // the request was aborted
}

void TestChatCompletionsAgent::cancelMidStreamStopsEverything()
{
    FakeChatServer server;
    QPointer<QTcpSocket> socket;
    server.onRequest = [&](int, QTcpSocket *s) {
        socket = s;
        FakeChatServer::beginStream(s);
        FakeChatServer::sendDelta(s, {{"content", "one "}});
    };
    ChatCompletionsAgent agent(openAi(server.port()));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.chunks.wait(10000));
    agent.cancel();
    QTRY_COMPARE_WITH_TIMEOUT(server.disconnects, 1, 10000); // cancel aborted the request
    if (socket) {
        FakeChatServer::sendDelta(socket, {{"content", "two "}});
        FakeChatServer::sendDone(socket);
    }
    QVERIFY(!probe.chunks.wait(200));
    QCOMPARE(probe.chunks.count(), 1);
    QCOMPARE(probe.finished.count(), 0);
    QCOMPARE(probe.failed.count(), 0);
}

void TestChatCompletionsAgent::azureKeyShape()
{
    FakeChatServer server;
    server.onRequest = [](int, QTcpSocket *s) { FakeChatServer::sendText(s, {"hej"}); };
    ChatCompletionsAgent agent(azure(server.port(), QStringLiteral("azure-key-1")));
    QCOMPARE(agent.name(), QStringLiteral("azure-openai:gpt-4o"));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.finished.wait(10000));
    QCOMPARE(probe.text(), QStringLiteral("hej"));
    const auto &req = server.requests.first();
    QCOMPARE(req.target, QByteArray("/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"));
    QCOMPARE(req.headers.value("api-key"), QByteArray("azure-key-1"));
    QVERIFY(!req.headers.contains("authorization"));
    QVERIFY(!req.json().contains("model")); // the deployment chooses the model
    QCOMPARE(req.json().value("stream").toBool(), true);
}

void TestChatCompletionsAgent::azureCliToken()
{
    // A fake `az` first on PATH: records its arguments, prints a token.
    QTemporaryDir bin;
    QVERIFY(bin.isValid());
    QFile az(bin.filePath("az"));
    QVERIFY(az.open(QIODevice::WriteOnly));
    az.write("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\necho fake-entra-token\n");
    az.close();
    az.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    qputenv("PATH", bin.path().toUtf8() + ':' + m_path);

    FakeChatServer server;
    server.onRequest = [](int, QTcpSocket *s) { FakeChatServer::sendText(s, {"ok"}); };
    ChatCompletionsAgent agent(azure(server.port(), {}));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.finished.wait(20000));
    const auto &req = server.requests.first();
    QCOMPARE(req.headers.value("authorization"), QByteArray("Bearer fake-entra-token"));
    QVERIFY(!req.headers.contains("api-key"));
    QFile args(bin.filePath("args"));
    QVERIFY(args.open(QIODevice::ReadOnly));
    QCOMPARE(args.readAll().trimmed(),
             QByteArray("account get-access-token --resource https://cognitiveservices.azure.com --query accessToken -o tsv"));
}

void TestChatCompletionsAgent::azureCliMissing()
{
    QTemporaryDir empty;
    qputenv("PATH", empty.path().toUtf8());
    FakeChatServer server;
    ChatCompletionsAgent agent(azure(server.port(), {}));
    Probe probe(&agent);
    agent.start(request());
    QVERIFY(probe.failed.wait(10000));
    QCOMPARE(probe.code(), QStringLiteral("unauthorized"));
    QVERIFY2(probe.message().contains(QLatin1String("AZURE_OPENAI_KEY")) && probe.message().contains(QLatin1String("az")),
             qPrintable(probe.message()));
    QCOMPARE(server.requests.size(), 0);
}

QTEST_GUILESS_MAIN(TestChatCompletionsAgent)
#include "tst_chatcompletionsagent.moc"
