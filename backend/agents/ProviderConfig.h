#pragma once

#include <QProcessEnvironment>
#include <QString>
#include <QUrl>

// Which model provider answers prompts, read from the environment:
//
//   AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT (or _DEPLOYMENT_NAME)
//       [+ AZURE_OPENAI_KEY (or _API_KEY); without a key: a token from `az account get-access-token`]
//       [+ AZURE_OPENAI_API_VERSION, default 2024-10-21]
//   OPENAI_API_KEY and/or OPENAI_BASE_URL (default https://api.openai.com/v1) [+ OPENAI_MODEL]
//       OPENAI_MODEL is required with a custom OPENAI_BASE_URL (Ollama, llama.cpp, vLLM)
//   PROVIDER_TIMEOUT_SECONDS: seconds of silence before a model request fails (default 120)
//   nothing set: the offline demo agent.
//
// Azure wins when both are configured. A half-configured setup (an endpoint without a
// deployment, ...) sets `error`; the caller should refuse to start and print it.
struct ProviderConfig
{
    enum class Kind { Demo, OpenAI, Azure };

    Kind kind = Kind::Demo;
    QString error;      // non-empty: the environment is half-configured; says what is missing
    QUrl baseUrl;       // OpenAI: ".../v1"; Azure: the resource endpoint "https://x.openai.azure.com"
    QString model;      // OpenAI: the "model" field; Azure: unused (the deployment chooses)
    QString deployment; // Azure
    QString apiVersion = QStringLiteral("2024-10-21"); // Azure
    QString apiKey;     // OpenAI: Bearer token (may be empty for local servers); Azure: `api-key`
    int timeoutMs = 120 * 1000; // silence on a model request before it fails with "timeout"
    int maxToolRounds = 5;      // tool-call round trips per turn before tools are switched off

    static ProviderConfig fromEnvironment(const QProcessEnvironment &env);

    bool isValid() const { return error.isEmpty(); }
    bool isRemote() const { return kind != Kind::Demo; }
    // Azure without a key: authenticate with the Azure CLI's token.
    bool usesAzureCli() const { return kind == Kind::Azure && apiKey.isEmpty(); }
    // Where chat completions are POSTed.
    QUrl chatCompletionsUrl() const;
    // One line for logs; never contains the key.
    QString describe() const;
};
