#include "agents/AgentFactory.h"

#include "agents/ChatCompletionsAgent.h"
#include "agents/DemoAgent.h"
#include "agents/FailingAgent.h"
#include "agents/SyntheticAgent.h"

#include <QNetworkAccessManager>
#include <QPointer>
#include <memory>

AgentFactory makeAgentFactory(const ProviderConfig &config, int demoPaceMs, bool benchEnabled)
{
    // Shared by the copies of the factory; the manager itself belongs to the QObject tree.
    auto network = std::make_shared<QPointer<QNetworkAccessManager>>();
    return [config, demoPaceMs, benchEnabled, network](const AgentRequest &request, QObject *parent) -> Agent * {
        const QJsonValue provider = request.options.value(QStringLiteral("provider"));
        const QString wanted = provider.toString();
        if (!provider.isUndefined() && !provider.isNull() && !provider.isString())
            return new FailingAgent(QStringLiteral("bad_request"), QStringLiteral("\"provider\" must be a string"), parent);
        if (wanted == QLatin1String("synthetic")) {
            if (!benchEnabled)
                return new FailingAgent(QStringLiteral("bad_request"),
                                        QStringLiteral("the synthetic benchmark provider is disabled: start the server with --bench"), parent);
            return new SyntheticAgent(parent);
        }
        if (wanted == QLatin1String("demo") || (wanted.isEmpty() && config.kind == ProviderConfig::Kind::Demo && config.isValid()))
            return new DemoAgent(demoPaceMs, parent);
        if (!wanted.isEmpty() && wanted != QLatin1String("model"))
            return new FailingAgent(QStringLiteral("bad_request"),
                                    QStringLiteral("unknown provider \"%1\" (use \"model\", \"demo\" or \"synthetic\")").arg(wanted), parent);
        if (!config.isValid())
            return new FailingAgent(QStringLiteral("provider_error"), config.error, parent);
        if (config.kind == ProviderConfig::Kind::Demo)
            return new DemoAgent(demoPaceMs, parent);
        if (!*network || (parent && (*network)->thread() != parent->thread()))
            *network = new QNetworkAccessManager(parent);
        return new ChatCompletionsAgent(config, *network, parent);
    };
}

QString describeAgentFactory(const ProviderConfig &config, bool benchEnabled)
{
    return QStringLiteral("model provider: %1; synthetic benchmark provider: %2")
        .arg(config.describe(), benchEnabled ? QStringLiteral("on") : QStringLiteral("off (--bench)"));
}
