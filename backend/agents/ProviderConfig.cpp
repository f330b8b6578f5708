#include "agents/ProviderConfig.h"

#include <QUrlQuery>

namespace {
QString firstSet(const QProcessEnvironment &env, std::initializer_list<const char *> names)
{
    for (const char *name : names) {
        const QString value = env.value(QString::fromLatin1(name)).trimmed();
        if (!value.isEmpty())
            return value;
    }
    return {};
}

// An http(s) URL with a host, without a trailing slash; empty and *error set otherwise.
QUrl parseBaseUrl(const QString &text, const QString &variable, QString *error)
{
    QString trimmed = text;
    while (trimmed.endsWith(QLatin1Char('/')))
        trimmed.chop(1);
    const QUrl url(trimmed, QUrl::StrictMode);
    if (!url.isValid() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")) || url.host().isEmpty()) {
        *error = QStringLiteral("%1 must be an http:// or https:// URL, got \"%2\"").arg(variable, text);
        return {};
    }
    if (url.hasQuery() || url.hasFragment()) {
        *error = QStringLiteral("%1 must not carry a query or fragment, got \"%2\"").arg(variable, text);
        return {};
    }
    return url;
}

void readAzure(const QProcessEnvironment &env, ProviderConfig *c)
{
    const QString endpoint = firstSet(env, {"AZURE_OPENAI_ENDPOINT"});
    c->deployment = firstSet(env, {"AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_DEPLOYMENT_NAME"});
    c->apiKey = firstSet(env, {"AZURE_OPENAI_KEY", "AZURE_OPENAI_API_KEY"});
    if (const QString version = firstSet(env, {"AZURE_OPENAI_API_VERSION"}); !version.isEmpty())
        c->apiVersion = version;
    c->kind = ProviderConfig::Kind::Azure;
    if (endpoint.isEmpty()) {
        c->error = QStringLiteral("%1 is set but AZURE_OPENAI_ENDPOINT is not: set it to your resource's endpoint, "
                                  "e.g. https://my-resource.openai.azure.com")
                       .arg(!c->deployment.isEmpty() ? QStringLiteral("AZURE_OPENAI_DEPLOYMENT") : QStringLiteral("AZURE_OPENAI_KEY"));
        return;
    }
    c->baseUrl = parseBaseUrl(endpoint, QStringLiteral("AZURE_OPENAI_ENDPOINT"), &c->error);
    if (!c->error.isEmpty())
        return;
    if (c->deployment.isEmpty()) {
        c->error = QStringLiteral("AZURE_OPENAI_ENDPOINT is set but AZURE_OPENAI_DEPLOYMENT (or AZURE_OPENAI_DEPLOYMENT_NAME) is not: "
                                  "set it to the name of your model deployment, e.g. gpt-4o-mini");
        return;
    }
    if (c->deployment.contains(QLatin1Char('/')) || c->deployment.contains(QLatin1Char('?')))
        c->error = QStringLiteral("AZURE_OPENAI_DEPLOYMENT must be a deployment name, got \"%1\"").arg(c->deployment);
}

void readOpenAi(const QProcessEnvironment &env, ProviderConfig *c)
{
    const QString base = firstSet(env, {"OPENAI_BASE_URL"});
    c->apiKey = firstSet(env, {"OPENAI_API_KEY"});
    c->model = firstSet(env, {"OPENAI_MODEL"});
    c->kind = ProviderConfig::Kind::OpenAI;
    if (base.isEmpty()) {
        if (c->apiKey.isEmpty()) {
            c->error = QStringLiteral("OPENAI_MODEL is set but neither OPENAI_API_KEY (for api.openai.com) nor OPENAI_BASE_URL "
                                      "(for a local server such as Ollama: http://localhost:11434/v1) is");
            return;
        }
        c->baseUrl = QUrl(QStringLiteral("https://api.openai.com/v1"));
        if (c->model.isEmpty())
            c->model = QStringLiteral("gpt-4o-mini");
        return;
    }
    c->baseUrl = parseBaseUrl(base, QStringLiteral("OPENAI_BASE_URL"), &c->error);
    if (!c->error.isEmpty())
        return;
    if (c->model.isEmpty())
        c->error = QStringLiteral("OPENAI_BASE_URL is set but OPENAI_MODEL is not: set it to a model the server serves "
                                  "(e.g. llama3.1 for Ollama; any name for a llama.cpp server)");
}
} // namespace

ProviderConfig ProviderConfig::fromEnvironment(const QProcessEnvironment &env)
{
    ProviderConfig c;
    if (const QString timeout = firstSet(env, {"PROVIDER_TIMEOUT_SECONDS"}); !timeout.isEmpty()) {
        bool ok = false;
        const double seconds = timeout.toDouble(&ok);
        if (!ok || seconds <= 0 || seconds > 24 * 3600) {
            c.error = QStringLiteral("PROVIDER_TIMEOUT_SECONDS must be a number of seconds between 0 and 86400, got \"%1\"").arg(timeout);
            return c;
        }
        c.timeoutMs = qMax(1, int(seconds * 1000));
    }
    if (!firstSet(env, {"AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_DEPLOYMENT_NAME", "AZURE_OPENAI_KEY",
                        "AZURE_OPENAI_API_KEY"})
             .isEmpty())
        readAzure(env, &c);
    else if (!firstSet(env, {"OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"}).isEmpty())
        readOpenAi(env, &c);
    return c;
}

QUrl ProviderConfig::chatCompletionsUrl() const
{
    QUrl url = baseUrl;
    if (kind == Kind::Azure) {
        url.setPath(url.path() + QStringLiteral("/openai/deployments/%1/chat/completions").arg(deployment));
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("api-version"), apiVersion);
        url.setQuery(query);
    } else {
        url.setPath(url.path() + QStringLiteral("/chat/completions"));
    }
    return url;
}

QString ProviderConfig::describe() const
{
    QString text;
    switch (kind) {
    case Kind::Demo:
        text = QStringLiteral("offline demo agent (no AZURE_OPENAI_* or OPENAI_* variables set)");
        break;
    case Kind::Azure:
        text = QStringLiteral("Azure OpenAI %1 deployment \"%2\" (api-version %3, auth: %4)")
                   .arg(baseUrl.toString(), deployment, apiVersion,
                        apiKey.isEmpty() ? QStringLiteral("Azure CLI token") : QStringLiteral("api-key"));
        break;
    case Kind::OpenAI:
        text = QStringLiteral("OpenAI-compatible %1 model \"%2\" (auth: %3)")
                   .arg(baseUrl.toString(), model, apiKey.isEmpty() ? QStringLiteral("none") : QStringLiteral("bearer key"));
        break;
    }
    if (!error.isEmpty())
        text = QStringLiteral("misconfigured model provider: %1").arg(error);
    return text;
}
