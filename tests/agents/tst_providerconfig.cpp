// ProviderConfig from the environment, and which agent the factory makes per request.
#include "agents/AgentFactory.h"
#include "agents/ProviderConfig.h"

#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>

namespace {
QProcessEnvironment env(const QStringList &assignments)
{
    QProcessEnvironment e;
    for (const QString &a : assignments)
        e.insert(a.section(QLatin1Char('='), 0, 0), a.section(QLatin1Char('='), 1));
    return e;
}
AgentRequest request(const QJsonObject &options = {})
{
    AgentRequest r;
    r.conversationId = "@dafx-travelplanner@00000000000000000000000000000000";
    r.prompt = QStringLiteral("3 days in Oslo");
    r.options = options;
    return r;
}
} // namespace

class TestProviderConfig : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parse_data();
    void parse();
    void timeout();
    void factory_data();
    void factory();
    void failingAgentsExplainWhy_data();
    void failingAgentsExplainWhy();
};

void TestProviderConfig::parse_data()
{
    QTest::addColumn<QStringList>("vars");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("error"); // substring; empty = valid
    QTest::addColumn<QString>("url");

    const int demo = int(ProviderConfig::Kind::Demo), openai = int(ProviderConfig::Kind::OpenAI), azure = int(ProviderConfig::Kind::Azure);
    QTest::newRow("nothing") << QStringList{} << demo << "" << "";
    QTest::newRow("blank values count as unset") << QStringList{"OPENAI_API_KEY=  ", "AZURE_OPENAI_ENDPOINT="} << demo << "" << "";
    QTest::newRow("openai key only") << QStringList{"OPENAI_API_KEY=sk-secret"} << openai << ""
                                     << "https://api.openai.com/v1/chat/completions";
    QTest::newRow("ollama") << QStringList{"OPENAI_BASE_URL=http://localhost:11434/v1/", "OPENAI_MODEL=llama3.1"} << openai << ""
                            << "http://localhost:11434/v1/chat/completions";
    QTest::newRow("base url without model") << QStringList{"OPENAI_BASE_URL=http://localhost:8080/v1"} << openai << "OPENAI_MODEL" << "";
    QTest::newRow("model only") << QStringList{"OPENAI_MODEL=gpt-4o"} << openai << "OPENAI_API_KEY" << "";
    QTest::newRow("bad base url") << QStringList{"OPENAI_BASE_URL=localhost:11434", "OPENAI_MODEL=m"} << openai << "http://" << "";
    QTest::newRow("azure with key") << QStringList{"AZURE_OPENAI_ENDPOINT=https://res.openai.azure.com/", "AZURE_OPENAI_DEPLOYMENT=gpt-4o",
                                                   "AZURE_OPENAI_KEY=secret"}
                                    << azure << ""
                                    << "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21";
    QTest::newRow("azure alternative names") << QStringList{"AZURE_OPENAI_ENDPOINT=https://res.openai.azure.com",
                                                            "AZURE_OPENAI_DEPLOYMENT_NAME=mini", "AZURE_OPENAI_API_KEY=secret",
                                                            "AZURE_OPENAI_API_VERSION=2025-01-01-preview"}
                                             << azure << ""
                                             << "https://res.openai.azure.com/openai/deployments/mini/chat/completions?api-version=2025-01-01-preview";
    QTest::newRow("azure without key (az cli)") << QStringList{"AZURE_OPENAI_ENDPOINT=https://res.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT=d"}
                                                << azure << "" << "https://res.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21";
    QTest::newRow("azure endpoint without deployment") << QStringList{"AZURE_OPENAI_ENDPOINT=https://res.openai.azure.com"} << azure
                                                       << "AZURE_OPENAI_DEPLOYMENT" << "";
    QTest::newRow("azure deployment without endpoint") << QStringList{"AZURE_OPENAI_DEPLOYMENT=d"} << azure << "AZURE_OPENAI_ENDPOINT" << "";
    QTest::newRow("azure key without endpoint") << QStringList{"AZURE_OPENAI_KEY=k"} << azure << "AZURE_OPENAI_ENDPOINT" << "";
    QTest::newRow("azure wins over openai") << QStringList{"AZURE_OPENAI_ENDPOINT=https://r.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT=d",
                                                           "AZURE_OPENAI_KEY=k", "OPENAI_API_KEY=sk"}
                                            << azure << "" << "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21";
}

void TestProviderConfig::parse()
{
    QFETCH(QStringList, vars);
    QFETCH(int, kind);
    QFETCH(QString, error);
    QFETCH(QString, url);
    const ProviderConfig c = ProviderConfig::fromEnvironment(env(vars));
    QCOMPARE(int(c.kind), kind);
    if (error.isEmpty()) {
        QVERIFY2(c.isValid(), qPrintable(c.error));
    } else {
        QVERIFY(!c.isValid());
        QVERIFY2(c.error.contains(error), qPrintable(c.error));
    }
    if (!url.isEmpty())
        QCOMPARE(c.chatCompletionsUrl().toString(), url);
    const QString line = c.describe() + describeAgentFactory(c, false);
    QVERIFY2(!line.contains(QLatin1String("secret")) && !line.contains(QLatin1String("sk-")), qPrintable(line));
    QVERIFY(!line.contains(QLatin1Char('\n')));
}

void TestProviderConfig::timeout()
{
    QCOMPARE(ProviderConfig::fromEnvironment(env({})).timeoutMs, 120000);
    QCOMPARE(ProviderConfig::fromEnvironment(env({"PROVIDER_TIMEOUT_SECONDS=2.5"})).timeoutMs, 2500);
    QVERIFY(ProviderConfig::fromEnvironment(env({"PROVIDER_TIMEOUT_SECONDS=soon"})).error.contains(QLatin1String("PROVIDER_TIMEOUT_SECONDS")));
}

void TestProviderConfig::factory_data()
{
    QTest::addColumn<QStringList>("vars");
    QTest::addColumn<bool>("bench");
    QTest::addColumn<QJsonObject>("options");
    QTest::addColumn<QString>("agentName");
    const QStringList ollama{"OPENAI_BASE_URL=http://127.0.0.1:9/v1", "OPENAI_MODEL=llama3.1"};
    QTest::newRow("offline default") << QStringList{} << false << QJsonObject{} << "demo";
    QTest::newRow("configured model") << ollama << false << QJsonObject{} << "openai:llama3.1";
    QTest::newRow("azure") << QStringList{"AZURE_OPENAI_ENDPOINT=https://r.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT=d", "AZURE_OPENAI_KEY=k"}
                           << false << QJsonObject{} << "azure-openai:d";
    QTest::newRow("demo on request") << ollama << false << QJsonObject{{"provider", "demo"}} << "demo";
    QTest::newRow("synthetic with --bench") << QStringList{} << true << QJsonObject{{"provider", "synthetic"}} << "synthetic";
    QTest::newRow("synthetic without --bench") << QStringList{} << false << QJsonObject{{"provider", "synthetic"}} << "unavailable";
    QTest::newRow("unknown provider") << QStringList{} << true << QJsonObject{{"provider", "gemini"}} << "unavailable";
    QTest::newRow("misconfigured") << QStringList{"AZURE_OPENAI_KEY=k"} << false << QJsonObject{} << "unavailable";
}

void TestProviderConfig::factory()
{
    QFETCH(QStringList, vars);
    QFETCH(bool, bench);
    QFETCH(QJsonObject, options);
    QFETCH(QString, agentName);
    const AgentFactory make = makeAgentFactory(ProviderConfig::fromEnvironment(env(vars)), 1, bench);
    QObject owner;
    Agent *agent = make(request(options), &owner);
    QVERIFY(agent);
    QCOMPARE(agent->parent(), &owner);
    QCOMPARE(agent->name(), agentName);
}

void TestProviderConfig::failingAgentsExplainWhy_data()
{
    QTest::addColumn<QStringList>("vars");
    QTest::addColumn<QJsonObject>("options");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("mention");
    QTest::newRow("synthetic without --bench") << QStringList{} << QJsonObject{{"provider", "synthetic"}} << "bad_request" << "--bench";
    QTest::newRow("unknown provider") << QStringList{} << QJsonObject{{"provider", "gemini"}} << "bad_request" << "gemini";
    QTest::newRow("provider not a string") << QStringList{} << QJsonObject{{"provider", 3}} << "bad_request" << "string";
    QTest::newRow("misconfigured") << QStringList{"AZURE_OPENAI_KEY=k"} << QJsonObject{} << "provider_error" << "AZURE_OPENAI_ENDPOINT";
}

void TestProviderConfig::failingAgentsExplainWhy()
{
    QFETCH(QStringList, vars);
    QFETCH(QJsonObject, options);
    QFETCH(QString, code);
    QFETCH(QString, mention);
    const AgentFactory make = makeAgentFactory(ProviderConfig::fromEnvironment(env(vars)), 1, false);
    QObject owner;
    Agent *agent = make(request(options), &owner);
    QSignalSpy failed(agent, &Agent::failed);
    agent->start(request(options));
    QCOMPARE(failed.count(), 0); // never from inside start()
    QVERIFY(failed.wait(5000));
    QCOMPARE(failed.first().at(0).toString(), code);
    QVERIFY2(failed.first().at(1).toString().contains(mention), qPrintable(failed.first().at(1).toString()));
}

QTEST_GUILESS_MAIN(TestProviderConfig)
#include "tst_providerconfig.moc"
